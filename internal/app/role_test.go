package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lsdbx/databricks-storage/internal/app"
	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/eventsource"
)

// Each function builds only the part of the core its role allows, and a
// direct operation of the other part is refused for good (never a Lambda
// error, which Lambda and Step Functions would retry) before any AWS call:
// the AWS configuration here points nowhere.
func TestRoleDecidesWhatAFunctionMayDo(t *testing.T) {
	cases := []struct {
		role        app.Role
		wantCreator bool
		wantManager bool
		refused     string // a direct payload the function refuses
	}{
		{app.RoleCreate, true, false, `{"operation": "update", "id": 1, "patch": {"title": "x"}}`},
		{app.RoleManage, false, true, `{"operation": "create", "storage": {"project": 1}}`},
		{app.RoleAll, true, true, ""},
	}
	for _, c := range cases {
		a := app.NewWithAWS(aws.Config{Region: "us-east-1"}, config.Config{TableName: "t", SecretNamePrefix: "p/"}, slog.New(slog.DiscardHandler), app.Options{Role: c.role})
		if (a.Creator != nil) != c.wantCreator || (a.Manager != nil) != c.wantManager {
			t.Errorf("role %d: creator %v manager %v, want %v %v", c.role, a.Creator != nil, a.Manager != nil, c.wantCreator, c.wantManager)
		}
		if (a.Dispatcher.Creator != nil) != c.wantCreator || (a.Dispatcher.Manager != nil) != c.wantManager ||
			(a.HTTP.Creator != nil) != c.wantCreator || (a.HTTP.Manager != nil) != c.wantManager {
			t.Errorf("role %d: the adapters hold a part the role does not allow (or lack one it does)", c.role)
		}
		if c.refused == "" {
			continue
		}
		out, err := a.Dispatcher.Invoke(context.Background(), []byte(c.refused))
		var res eventsource.DirectResult
		if err != nil || json.Unmarshal(out, &res) != nil || res.Outcome != "refused" || res.ErrorKind != "wrong_function" {
			t.Errorf("role %d: Invoke(%s) = %s, %v; want refused, wrong_function", c.role, c.refused, out, err)
		}
	}
}
