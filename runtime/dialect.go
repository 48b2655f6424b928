package runtime

import "go.starlark.net/syntax"

// Dialect is the one set of Starlark file options used for every plan and module of the project.
// Researchers write plans as they write Python scripts: top-level if/for, a global assigned again
// (a loop variable reused, a result refined), while loops, recursion and set(). A plan that loops
// forever is stopped like any run, with Ctrl-C.
var Dialect = &syntax.FileOptions{
	TopLevelControl: true,
	GlobalReassign:  true,
	While:           true,
	Recursion:       true,
	Set:             true,
}
