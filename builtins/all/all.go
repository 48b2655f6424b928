// Package all links every domain package's builtins into the binary; each registers itself with
// the runtime in its init function.
package all

import (
	_ "starlab/builtins/analysis"
	_ "starlab/builtins/report"
	_ "starlab/builtins/server"
	_ "starlab/runtime"
)
