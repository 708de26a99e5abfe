package databricks_test

import (
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/databricks"
)

// The checker is the sync's and the export's workspace. (Checked here,
// not in the package: see labelstudio's ports_test.go.)
var (
	_ core.VolumePager  = databricks.Volume{}
	_ core.FileFetcher  = (*databricks.Checker)(nil)
	_ core.VolumeWriter = databricks.Volume{}
)
