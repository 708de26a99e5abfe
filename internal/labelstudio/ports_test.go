package labelstudio_test

import (
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/labelstudio"
)

// The client is the sync's and the export's Label Studio. (Checked here,
// not in the package: an interface conversion there would link these
// methods into every function, the create function's too.)
var (
	_ core.TaskImporter     = labelstudio.Tasks{}
	_ core.AnnotationSource = labelstudio.Tasks{}
	_ core.Webhooks         = labelstudio.Tasks{}
)
