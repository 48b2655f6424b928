package all

import (
	_ "starlab/builtins/analysis"
	_ "starlab/builtins/gpu"
	_ "starlab/builtins/report"
	_ "starlab/builtins/results"
	_ "starlab/builtins/server"
	_ "starlab/builtins/sweep"
	_ "starlab/builtins/text"
	_ "starlab/builtins/twin"
	_ "starlab/runtime"
)
