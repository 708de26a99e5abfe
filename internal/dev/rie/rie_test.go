package rie

import (
	"os"
	"strings"
	"testing"
)

// The local builds stamp and strip like the Lambda build: the Makefile's
// flags and LambdaFlags must not drift apart.
func TestLambdaFlagsAreTheMakefiles(t *testing.T) {
	mk, err := os.ReadFile("../../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	f := LambdaFlags("$(VERSION)")
	want := "GOFLAGS_LAMBDA := " + strings.Join(f[:len(f)-1], " ") + ` "` + f[len(f)-1] + `"`
	if !strings.Contains(string(mk), want+"\n") {
		t.Errorf("the Makefile has no line %q", want)
	}
}

func TestCountReportsCountsEndedLinesOnly(t *testing.T) {
	for text, want := range map[string]int{
		"": 0,
		"START RequestId: a\nREPORT RequestId: a\tDuration: 1 ms\n": 1,
		"REPORT RequestId: a\tDur":                                  0,
		"x REPORT RequestId: a\n":                                   0,
		"REPORT RequestId: a\nREPORT RequestId: b\n{\"msg\":1}\n":   2,
	} {
		if got := countReports([]byte(text)); got != want {
			t.Errorf("%q: %d, want %d", text, got, want)
		}
	}
}
