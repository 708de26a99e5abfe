package benchkit

import (
	"bufio"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GoRuntimeVars are the environment variables through which a deployment
// tunes the Go runtime of a bootstrap (garbage collector and scheduler).
var GoRuntimeVars = []string{"GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GODEBUG"}

// GoSetting is a set of Go runtime environment variables, e.g. GOGC=400
// and GOMEMLIMIT=90MiB; empty means the Go defaults.
type GoSetting map[string]string

// ParseGoSetting reads "GOGC=400 GOMEMLIMIT=90MiB" (space-separated
// KEY=VALUE pairs of GoRuntimeVars); "" and "defaults" are the Go defaults.
func ParseGoSetting(s string) (GoSetting, error) {
	g := GoSetting{}
	if strings.TrimSpace(s) == "defaults" {
		return g, nil
	}
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || v == "" || !slices.Contains(GoRuntimeVars, k) {
			return nil, fmt.Errorf("setting %q: want KEY=VALUE with KEY one of %s", f, strings.Join(GoRuntimeVars, ", "))
		}
		if _, dup := g[k]; dup {
			return nil, fmt.Errorf("setting %q: %s given twice", s, k)
		}
		g[k] = v
	}
	return g, nil
}

// String is the setting as ParseGoSetting reads it, keys in the order of
// GoRuntimeVars; "Go defaults" when empty.
func (g GoSetting) String() string {
	if len(g) == 0 {
		return "Go defaults"
	}
	var parts []string
	for _, k := range GoRuntimeVars {
		if v, ok := g[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

// Equal reports whether g and h set the same variables to the same values.
func (g GoSetting) Equal(h GoSetting) bool { return maps.Equal(g, h) }

// WriteGoSettingWrapper writes an executable shell script to path that runs
// bootstrap with setting as its Go runtime environment (any of
// GoRuntimeVars it inherits removed first) and GODEBUG=gctrace=1 added, so
// that the bootstrap alone, and not the emulator that starts it (a Go
// program too, which passes its environment on), runs with the setting
// and prints a line per garbage collection. The script execs: the
// bootstrap keeps its process id and parent.
func WriteGoSettingWrapper(path, bootstrap string, setting GoSetting) error {
	args := []string{"exec", "env"}
	for _, k := range GoRuntimeVars {
		args = append(args, "-u", k)
	}
	godebug := "gctrace=1"
	if v := setting["GODEBUG"]; v != "" {
		godebug = v + "," + godebug
	}
	for _, k := range GoRuntimeVars {
		if v, ok := setting[k]; ok && k != "GODEBUG" {
			args = append(args, shellQuote(k+"="+v))
		}
	}
	args = append(args, shellQuote("GODEBUG="+godebug), shellQuote(bootstrap), `"$@"`)
	script := "#!/bin/sh\n" + strings.Join(args, " ") + "\n"
	return os.WriteFile(path, []byte(script), 0o755)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

var gcTraceRE = regexp.MustCompile(`(?m)^gc (\d+) @[0-9.]+s [0-9]+%: [0-9.+]+ ms clock, ([0-9.+/]+) ms cpu`)

// GCTrace sums up what GODEBUG=gctrace=1 reported in logs ("gc 12 @3.456s
// 1%: … ms clock, 0.02+0.5/1.1/0.3+0.01 ms cpu, …"): the number of the last
// garbage collection, which counts every collection since the process
// started, and the CPU time of the collections in logs (stop-the-world
// phases times GOMAXPROCS, and assist, background and idle marking). The
// logs must hold one process's trace only (see WriteGoSettingWrapper).
func GCTrace(logs string) (count int, cpu time.Duration) {
	var ms float64
	for _, m := range gcTraceRE.FindAllStringSubmatch(logs, -1) {
		if v, err := strconv.Atoi(m[1]); err == nil && v > count {
			count = v
		}
		for _, f := range strings.FieldsFunc(m[2], func(r rune) bool { return r == '+' || r == '/' }) {
			if v, err := strconv.ParseFloat(f, 64); err == nil {
				ms += v
			}
		}
	}
	return count, time.Duration(ms * float64(time.Millisecond))
}

// TemplateEnv returns the Environment.Variables of resource in the SAM or
// CloudFormation template at path, as written (intrinsic functions such as
// "!Ref X" stay text; quotes and trailing comments are removed). It reads
// the block layout of the YAML (nested keys indented deeper), not YAML in
// general: enough for template.yaml, which the checks of cfn-lint keep in
// that shape.
func TemplateEnv(path, resource string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The keys from the resource down to the variables, each a direct
	// child of the one before.
	want := []string{resource, "Properties", "Environment", "Variables"}
	type level struct{ indent, child int } // child: its children's indentation, -1 until seen
	var stack []level
	env := map[string]string{}
	found := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		text := strings.TrimSpace(line)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		for len(stack) > 0 && indent <= stack[len(stack)-1].indent {
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.child < 0 {
				top.child = indent
			}
			if indent != top.child {
				continue // deeper than a direct child
			}
		}
		key, value, ok := strings.Cut(text, ":")
		if !ok {
			continue
		}
		key = strings.TrimSpace(key)
		switch {
		case len(stack) == len(want):
			env[key] = yamlScalar(value)
		case key == want[len(stack)] && strings.TrimSpace(value) == "":
			stack = append(stack, level{indent, -1})
			found = found || len(stack) == len(want)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%s: no %s", path, strings.Join(want, "."))
	}
	return env, nil
}

// yamlScalar is a plain or quoted one-line YAML scalar without its comment.
func yamlScalar(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
		if end := strings.IndexByte(v[1:], v[0]); end >= 0 {
			return v[1 : end+1]
		}
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v)
}

// GoSettingOf picks the Go runtime variables (GoRuntimeVars) out of env.
func GoSettingOf(env map[string]string) GoSetting {
	g := GoSetting{}
	for _, k := range GoRuntimeVars {
		if v, ok := env[k]; ok {
			g[k] = v
		}
	}
	return g
}
