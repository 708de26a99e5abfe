package benchkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseGoSetting(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		n        int
	}{
		{"", "Go defaults", 0},
		{"defaults", "Go defaults", 0},
		{"GOMEMLIMIT=90MiB GOGC=400", "GOGC=400 GOMEMLIMIT=90MiB", 2},
	} {
		g, err := ParseGoSetting(tc.in)
		if err != nil || g.String() != tc.want || len(g) != tc.n {
			t.Errorf("ParseGoSetting(%q) = %v, %v; want %s", tc.in, g, err, tc.want)
		}
	}
	for _, bad := range []string{"GOGC", "GOGC=", "FOO=1", "GOGC=1 GOGC=2"} {
		if _, err := ParseGoSetting(bad); err == nil {
			t.Errorf("ParseGoSetting(%q) succeeded", bad)
		}
	}
}

func TestGoSettingWrapper(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	// A stand-in bootstrap that prints its environment.
	target := filepath.Join(dir, "bootstrap")
	if err := os.WriteFile(target, []byte("#!/bin/sh\nenv\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(dir, "with it's setting")
	if err := WriteGoSettingWrapper(wrapper, target, GoSetting{"GOGC": "400", "GODEBUG": "madvdontneed=1"}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(wrapper)
	cmd.Env = append(os.Environ(), "GOMEMLIMIT=1GiB", "GOGC=50")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	if env["GOGC"] != "400" || env["GODEBUG"] != "madvdontneed=1,gctrace=1" {
		t.Errorf("GOGC=%q GODEBUG=%q; want 400 and madvdontneed=1,gctrace=1", env["GOGC"], env["GODEBUG"])
	}
	if v, ok := env["GOMEMLIMIT"]; ok {
		t.Errorf("GOMEMLIMIT=%q inherited; want it removed", v)
	}
}

func TestGCTrace(t *testing.T) {
	logs := "START RequestId: x\n" +
		"gc 1 @0.004s 2%: 0.010+0.8+0.003 ms clock, 0.021+0.1/0.3/0+0.007 ms cpu, 3->3->1 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P\n" +
		"{\"level\":\"INFO\",\"msg\":\"gc 99 @ not a trace\"}\n" +
		"gc 2 @0.010s 3%: 0.010+0.8+0.003 ms clock, 0.021+0.1/0.3/0+0.007 ms cpu, 3->3->1 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P\n"
	if n, cpu := GCTrace(logs); n != 2 || cpu != 2*428*time.Microsecond {
		t.Errorf("GCTrace = %d, %s; want 2, 856µs (twice 0.021+0.1+0.3+0+0.007 ms)", n, cpu)
	}
	if n, cpu := GCTrace("nothing"); n != 0 || cpu != 0 {
		t.Errorf("GCTrace of no trace = %d, %s", n, cpu)
	}
}

const template = `Resources:
  Other:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          GOGC: "50"
  Fn:
    Type: AWS::Serverless::Function
    Metadata:
      Properties:
        Environment:
          Variables:
            GOGC: "10"
    Properties:
      Environment:
        Variables:
          TABLE_NAME: !Ref Table
          # Go GC (see BENCHMARKS.md)
          GOGC: "400" # a comment
          GOMEMLIMIT: 90MiB
          EMPTY: ""
      Events:
        Variables:
          X: "1"
  FnArn:
    Value: !GetAtt Fn.Arn
`

func TestTemplateEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(path, []byte(template), 0o644); err != nil {
		t.Fatal(err)
	}
	env, err := TemplateEnv(path, "Fn")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"TABLE_NAME": "!Ref Table", "GOGC": "400", "GOMEMLIMIT": "90MiB", "EMPTY": ""}
	if len(env) != len(want) {
		t.Errorf("TemplateEnv = %v; want %v", env, want)
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("TemplateEnv[%s] = %q; want %q (all: %v)", k, env[k], v, env)
		}
	}
	if g := GoSettingOf(env); g.String() != "GOGC=400 GOMEMLIMIT=90MiB" {
		t.Errorf("GoSettingOf = %s", g)
	}
	if _, err := TemplateEnv(path, "Missing"); err == nil {
		t.Error("TemplateEnv of a missing resource succeeded")
	}
}

// The repository's own template: whatever it sets, it must be readable.
func TestTemplateEnvOfTheRepository(t *testing.T) {
	env, err := TemplateEnv(filepath.Join("..", "..", "template.yaml"), "CreateStorageFunction")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := env["TABLE_NAME"]; !ok {
		t.Errorf("CreateStorageFunction's variables %v have no TABLE_NAME", env)
	}
}
