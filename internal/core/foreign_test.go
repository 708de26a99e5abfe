package core_test

import (
	"context"
	"errors"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/core"
)

// A storage of a project the caller may not manage is not found, exactly as
// a missing id: no operation by id confirms that the id exists or names its
// project, and none reads its secret, checks its workspace or changes it.
func TestStoragesOfOtherProjectsAreNotFound(t *testing.T) {
	ops := []struct {
		name string
		do   func(*lifecycle, core.Caller, int64) error
	}{
		{"get", func(l *lifecycle, c core.Caller, id int64) error {
			_, err := l.mgr.Get(context.Background(), c, id)
			return err
		}},
		{"update", func(l *lifecycle, c core.Caller, id int64) error {
			_, err := l.mgr.Update(context.Background(), c, id, patch(t, `{"title": "mine now"}`))
			return err
		}},
		{"delete", func(l *lifecycle, c core.Caller, id int64) error { return l.mgr.Delete(context.Background(), c, id) }},
		{"validate", func(l *lifecycle, c core.Caller, id int64) error {
			return l.mgr.ValidateExisting(context.Background(), c, id, patch(t, `{}`))
		}},
		{"files", func(l *lifecycle, c core.Caller, id int64) error {
			_, err := l.mgr.PreviewStoredFiles(context.Background(), c, id, patch(t, `{}`), 5)
			return err
		}},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			l := newLifecycle(t)
			foreign := op.do(l, stranger, 42) // storage 42 is of project 7
			foreignCalls := l.j.list()
			missing := op.do(l, stranger, 43) // there is no storage 43
			var perm *core.PermissionError
			for what, err := range map[string]error{"foreign": foreign, "missing": missing} {
				if !errors.Is(err, core.ErrNotFound) || errors.As(err, &perm) || core.Transient(err) {
					t.Errorf("%s storage: %v, want ErrNotFound and nothing else", what, err)
				}
			}
			if len(foreignCalls) != 1 || foreignCalls[0] != "get-record" {
				t.Errorf("a stranger's %s reached %v, want only the record read", op.name, foreignCalls)
			}
			if len(l.repo.stored) != 1 || l.repo.stored[0].Title == nil || *l.repo.stored[0].Title != "Landing" {
				t.Errorf("the storage changed: %+v", l.repo.stored)
			}
		})
	}
}
