//go:build integration

package storage_test

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// CheckJSON words every invalid UTF-8 body as Python's UTF-8 codec does,
// the one Label Studio's JSON parser decodes bodies with: checked against
// the project virtualenv's Python on random bytes around the edges of the
// encoding.
func TestCheckJSONWordsUTF8ErrorsAsPython(t *testing.T) {
	python := filepath.Join("..", "..", ".venv", "bin", "python")
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("the project virtualenv is missing (make venv): %v", err)
	}
	// Bytes where UTF-8's rules change; no brackets, so that only the
	// encoding is judged.
	alphabet := []byte{'a', ' ', '"', 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf,
		0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf7, 0xf8, 0xfe, 0xff}
	rng := rand.New(rand.NewPCG(23, 4))
	var inputs [][]byte
	for range 3000 {
		b := make([]byte, 1+rng.IntN(7))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		inputs = append(inputs, b)
	}
	var stdin bytes.Buffer
	for _, b := range inputs {
		stdin.WriteString(hex.EncodeToString(b) + "\n")
	}
	script := `
import sys
for line in sys.stdin:
    try:
        bytes.fromhex(line.strip()).decode("utf-8")
        print("")
    except UnicodeDecodeError as e:
        print("JSON parse error - " + str(e))
`
	cmd := exec.Command(python, "-c", script)
	cmd.Stdin = &stdin
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	want := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(want) != len(inputs) {
		t.Fatalf("python answered %d lines for %d inputs", len(want), len(inputs))
	}
	mismatches := 0
	for i, b := range inputs {
		got := ""
		if err := storage.CheckJSON(b); err != nil {
			got = err.Error()
		}
		if got != want[i] && mismatches < 10 {
			mismatches++
			t.Errorf("% x: CheckJSON = %q, Python %q", b, got, want[i])
		}
	}
}
