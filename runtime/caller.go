package runtime

import "go.starlark.net/starlark"

// CallerFile is the plan file of the innermost Starlark frame calling a builtin ("." when there is
// none): builtins resolve a plan's relative paths (model files, calibrations) against its
// directory.
func CallerFile(thread *starlark.Thread) string {
	for i := 0; i < thread.CallStackDepth(); i++ {
		if fr := thread.CallFrame(i); fr.Pos.IsValid() && fr.Pos.Filename() != "<builtin>" {
			return fr.Pos.Filename()
		}
	}
	return "."
}
