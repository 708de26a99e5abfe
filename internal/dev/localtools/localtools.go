// Package localtools finds the development tools the Makefile installs into
// the project (the virtualenv, .tools/bin) from anywhere inside it.
package localtools

import (
	"fmt"
	"os"
	"path/filepath"
)

// Find returns $envVar when set (it must exist), else rel resolved against
// dir or the nearest of its parents that has it. hint tells the user how to
// install the tool when it is nowhere.
func Find(envVar, dir, rel, hint string) (string, error) {
	if p := os.Getenv(envVar); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", envVar, p, err)
		}
		return p, nil
	}
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%s not found: %s (or set %s)", filepath.Base(rel), hint, envVar)
		}
	}
}
