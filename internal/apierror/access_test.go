package apierror_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/apierror"
	"github.com/lsdbx/databricks-storage/internal/core"
)

// The project access port's answers get Label Studio's statuses: a listed
// project that does not exist is its 404 text, an unanswered question 503.
func TestProjectAccessErrors(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		detail string
	}{
		{fmt.Errorf("%w: %w", core.ErrNotFound, core.ErrProjectNotFound), http.StatusNotFound, "No Project matches the given query."},
		{fmt.Errorf("%w: Label Studio: connection refused", core.ErrAccessUnavailable), http.StatusServiceUnavailable,
			"Label Studio could not be asked whether this caller may manage the project; nothing was changed. Retry later."},
	} {
		status, detail, _ := apierror.For(c.err)
		if status != c.status || detail != c.detail {
			t.Errorf("%v → %d %q, want %d %q", c.err, status, detail, c.status, c.detail)
		}
	}
}
