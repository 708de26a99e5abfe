package core

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/storage"
)

// sentinels are the errors of the core (and the request errors of storage
// that pass through it), each with the one kind it must have.
var sentinels = map[string]struct {
	err  error
	kind Kind
}{
	"ErrPersistence":         {ErrPersistence, KindPersistence},
	"ErrIdempotencyConflict": {ErrIdempotencyConflict, KindKeyReused},
	"ErrKeyOfDeletedStorage": {ErrKeyOfDeletedStorage, KindKeyOfDeletedStorage},
	"ErrNotFound":            {ErrNotFound, KindNotFound},
	"ErrConflict":            {ErrConflict, KindConflict},
	"ErrProjectNotFound":     {ErrProjectNotFound, KindNotFound},
	"ErrAccessUnavailable":   {ErrAccessUnavailable, KindAccessUnavailable},
	"WrongFunctionError":     {&WrongFunctionError{Operation: "update"}, KindWrongFunction},
	"ErrLinkRefused":         {ErrLinkRefused, KindLinkRefused},
	"ErrWorkspaceRefused":    {ErrWorkspaceRefused, KindWorkspaceRefused},
	"ErrWorkspaceBusy":       {ErrWorkspaceBusy, KindWorkspaceBusy},
	"ErrWorkspaceFailed":     {ErrWorkspaceFailed, KindWorkspaceFailed},
	// The ports' own errors never leave the core unwrapped: the core turns
	// them into ErrPersistence or handles them. Alone they are a fault.
	"ErrIDTaken":  {ErrIDTaken, KindInternal},
	"ErrKeyTaken": {ErrKeyTaken, KindInternal},
	// The sync worker handles these itself (retry, or a failed sync).
	"ErrTasksUnavailable": {ErrTasksUnavailable, KindInternal},
	"ErrTasksRefused":     {ErrTasksRefused, KindInternal},
	"ErrSyncBusy":         {ErrSyncBusy, KindInternal},
	"ErrCursorRefused":    {ErrCursorRefused, KindInternal},
	"ErrSyncNotQueued":    {ErrSyncNotQueued, KindPersistence},
	"ErrSyncUnavailable":  {ErrSyncUnavailable, KindSyncUnavailable},
	"ErrWebhookRefused":   {ErrWebhookRefused, KindWebhookRefused},
	"PermissionError":     {&PermissionError{TokenID: "t", Project: 1}, KindForbidden},

	"storage.ErrMalformed":              {fmt.Errorf("%w: not an object", storage.ErrMalformed), KindMalformed},
	"storage.ErrTooLarge":               {storage.ErrTooLarge, KindTooLarge},
	"storage.ValidationError":           {&storage.ValidationError{Fields: map[string][]string{"volume": {"x"}}}, KindInvalid},
	"storage.ConnectionError":           {&storage.ConnectionError{Reason: "volume_not_found", Message: "no volume"}, KindConnectionRefused},
	"storage.ConnectionError transient": {&storage.ConnectionError{Reason: storage.ReasonTimedOut, Message: "slow"}, KindWorkspaceUnavailable},
	"context.DeadlineExceeded":          {context.DeadlineExceeded, KindTimeout},
}

// TestEverySentinelHasExactlyOneKind finds the exported errors the core
// declares (Err… variables and …Error types) and checks that each is in
// sentinels and that exactly one row of the table of kinds matches it (none
// for KindInternal).
func TestEverySentinelHasExactlyOneKind(t *testing.T) {
	for _, name := range declaredErrors(t) {
		if _, ok := sentinels[name]; !ok {
			t.Errorf("%s is declared in the core but has no expected kind in sentinels", name)
		}
	}
	for name, s := range sentinels {
		t.Run(name, func(t *testing.T) {
			var matched []string
			for k, spec := range kinds {
				if spec.matches != nil && spec.matches(s.err) {
					matched = append(matched, Kind(k).String())
				}
			}
			want := 1
			if s.kind == KindInternal {
				want = 0
			}
			if len(matched) != want {
				t.Errorf("%v matches the kinds %v, want exactly %s", s.err, matched, s.kind)
			}
			if got := KindOf(s.err); got != s.kind {
				t.Errorf("KindOf = %s, want %s", got, s.kind)
			}
			if got := KindOf(fmt.Errorf("context: %w", s.err)); got != s.kind {
				t.Errorf("KindOf(wrapped) = %s, want %s", got, s.kind)
			}
		})
	}
}

// declaredErrors returns the names of the exported Err… variables and
// …Error types of the package's non-test files.
func declaredErrors(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				for _, id := range n.Names {
					if id.IsExported() && strings.HasPrefix(id.Name, "Err") {
						names = append(names, id.Name)
					}
				}
			case *ast.TypeSpec:
				if n.Name.IsExported() && strings.HasSuffix(n.Name.Name, "Error") {
					names = append(names, n.Name.Name)
				}
			}
			return true
		})
	}
	if len(names) < 5 {
		t.Fatalf("found only %v: the search is broken", names)
	}
	return names
}

func TestKindTable(t *testing.T) {
	cases := []struct {
		err       error
		status    int
		retryable bool
	}{
		{fmt.Errorf("%w: write record: %w", ErrPersistence, context.DeadlineExceeded), http.StatusInternalServerError, true},
		{fmt.Errorf("%w: %w", ErrPersistence, ErrIDTaken), http.StatusInternalServerError, true},
		{errors.New("something unexpected"), http.StatusInternalServerError, true},
		// An oversized event body is refused for good: no retry makes it smaller.
		{storage.ErrTooLarge, http.StatusRequestEntityTooLarge, false},
		{&storage.ConnectionError{Reason: storage.ReasonWorkspaceError, Message: "500"}, http.StatusBadRequest, true},
		// A timed-out check is the workspace's kind, not a timeout of the service.
		{&storage.ConnectionError{Reason: storage.ReasonTimedOut, Message: "slow", Err: context.DeadlineExceeded}, http.StatusBadRequest, true},
		{fmt.Errorf("storage 3 was deleted meanwhile: %w", ErrNotFound), http.StatusNotFound, false},
		{fmt.Errorf("direct: %w", &WrongFunctionError{Operation: "update"}), http.StatusMisdirectedRequest, false},
	}
	for _, c := range cases {
		t.Run(c.err.Error(), func(t *testing.T) {
			k := KindOf(c.err)
			if k.Status() != c.status || k.Retryable() != c.retryable || Transient(c.err) != c.retryable {
				t.Errorf("%s: status %d retryable %v, want %d %v", k, k.Status(), k.Retryable(), c.status, c.retryable)
			}
		})
	}
	if Transient(nil) {
		t.Error("Transient(nil) = true")
	}
	seen := map[string]bool{}
	for _, k := range Kinds() {
		if k.String() == "" || seen[k.String()] || k.Status() < 400 {
			t.Errorf("kind %d: name %q (taken before: %v), status %d", k, k, seen[k.String()], k.Status())
		}
		seen[k.String()] = true
	}
}
