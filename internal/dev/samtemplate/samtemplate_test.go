package samtemplate

import (
	"slices"
	"testing"
)

func TestTheTemplatesFunctions(t *testing.T) {
	for id, want := range map[string]struct{ mem, timeout int }{
		"CreateStorageFunction": {512, 30},
		"ManageStorageFunction": {512, 30},
		"SweepFunction":         {128, 300},
	} {
		f, err := Load("../../../template.yaml", id)
		if err != nil {
			t.Fatal(err)
		}
		if f.MemorySize != want.mem || f.Timeout != want.timeout || f.Runtime != "provided.al2023" || f.Architecture != "arm64" || f.LogLevel != "INFO" {
			t.Errorf("%s: %+v", id, f)
		}
		if !slices.Contains(f.FromResources, "TABLE_NAME") || f.Env["SECRET_NAME_PREFIX"] != "label-studio/databricks-storage/" {
			t.Errorf("%s: env %v, from resources %v", id, f.Env, f.FromResources)
		}
	}
	if _, err := Load("../../../template.yaml", "NoSuchFunction"); err == nil {
		t.Error("a missing function was found")
	}
}

func TestGlobalsAndParameters(t *testing.T) {
	tpl := []byte(`
Parameters:
  Level: {Type: String, Default: WARN}
  Mem: {Type: Number, Default: 512}
Globals:
  Function:
    Timeout: 12
    Environment:
      Variables: {A: global, B: global}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      MemorySize: !Ref Mem
      LoggingConfig: {ApplicationLogLevel: !Ref Level}
      Environment:
        Variables:
          B: own
          C: !Ref Table
          D: ""
  Odd:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          X: !Sub "${AWS::Region}"
`)
	f, err := Parse(tpl, "Fn")
	if err != nil {
		t.Fatal(err)
	}
	if f.MemorySize != 512 || f.Timeout != 12 || f.LogLevel != "WARN" || f.Env["A"] != "global" || f.Env["B"] != "own" ||
		f.Env["D"] != "" || len(f.Env) != 3 || !slices.Equal(f.FromResources, []string{"C"}) {
		t.Errorf("%+v", f)
	}
	if _, err := Parse(tpl, "Odd"); err == nil {
		t.Error("a !Sub was read as a value")
	}
}
