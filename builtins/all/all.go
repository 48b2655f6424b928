package all

import (
	_ "starlab/builtins/analysis"
	_ "starlab/builtins/gpu"
	_ "starlab/builtins/report"
	_ "starlab/builtins/server"
	_ "starlab/builtins/sweep"
	_ "starlab/builtins/twin"
	_ "starlab/runtime"
)
