//go:build integration

package tokenstore_test

import (
	"testing"

	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
