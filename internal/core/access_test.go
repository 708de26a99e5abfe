package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// projectAnswer is a ProjectAccess that answers err for every project and
// records what it was asked.
type projectAnswer struct {
	err   error
	asked []int64
}

func (p *projectAnswer) Authorize(_ context.Context, _ core.Caller, project int64) error {
	p.asked = append(p.asked, project)
	return p.err
}

// The core asks its ProjectAccess before any work, and answers a missing
// project as Label Studio does: a field error on create and validate (its
// serializer's "Invalid pk"), not found on reads; a forbidden project is a
// PermissionError and an unanswered question ErrAccessUnavailable, with
// nothing written in every case.
func TestTheCoreAsksItsProjectAccess(t *testing.T) {
	notFound := fmt.Errorf("project 7: %w", core.ErrProjectNotFound)
	forbidden := &core.PermissionError{TokenID: "t", Project: 7}
	unavailable := fmt.Errorf("%w: Label Studio is down", core.ErrAccessUnavailable)
	for _, c := range []struct {
		name       string
		err        error
		wantCreate func(error) bool
		wantList   func(error) bool
	}{
		{"allowed", nil, func(err error) bool { return err == nil }, func(err error) bool { return err == nil }},
		{"not found", notFound, invalidPK, func(err error) bool {
			return errors.Is(err, core.ErrNotFound) && errors.Is(err, core.ErrProjectNotFound)
		}},
		{"forbidden", forbidden, isPermission, isPermission},
		{"unavailable", unavailable, isUnavailable, isUnavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture()
			access := &projectAnswer{err: c.err}
			f.svc.Projects = access
			ctx := context.Background()
			_, createErr := f.svc.Create(ctx, anyone, patRequest(t), "")
			validateErr := f.svc.Validate(ctx, anyone, patRequest(t))
			for _, err := range []error{createErr, validateErr} {
				if !c.wantCreate(err) {
					t.Errorf("create/validate err = %v", err)
				}
			}
			if c.err != nil && len(f.j.list()) != 0 {
				t.Errorf("a refused request reached %v", f.j.list())
			}
			mgr := &core.Manager{Records: f.repo, Projects: access}
			if _, err := mgr.List(ctx, anyone, 7, ""); !c.wantList(err) {
				t.Errorf("list err = %v", err)
			}
			if want := []int64{7, 7, 7}; !reflect.DeepEqual(access.asked, want) {
				t.Errorf("asked about %v, want %v", access.asked, want)
			}
		})
	}
}

func invalidPK(err error) bool {
	var v *storage.ValidationError
	return errors.As(err, &v) && reflect.DeepEqual(v.Fields, map[string][]string{"project": {`Invalid pk "7" - object does not exist.`}})
}

func isPermission(err error) bool {
	var p *core.PermissionError
	return errors.As(err, &p)
}

func isUnavailable(err error) bool {
	return errors.Is(err, core.ErrAccessUnavailable) && core.Transient(err)
}

// A principal's credential never shows in a print, a log line or JSON.
func TestCredentialNeverPrints(t *testing.T) {
	const header = "Token ls-secret-token-0123456789"
	p := core.Principal{TokenID: "t", User: "u", Credential: core.NewCredential(header)}
	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "principal", p, "credential", p.Credential)
	js, _ := json.Marshal(p)
	for _, out := range []string{fmt.Sprint(p), fmt.Sprintf("%+v", p), fmt.Sprintf("%#v", p), fmt.Sprint(core.TokenHolder(p)), logs.String(), string(js)} {
		if strings.Contains(out, "ls-secret-token") {
			t.Errorf("the credential shows in %q", out)
		}
	}
	if p.Credential.Header() != header {
		t.Errorf("Header() = %q", p.Credential.Header())
	}
}
