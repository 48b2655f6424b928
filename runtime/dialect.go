package runtime

import "go.starlark.net/syntax"

// Dialect is the one set of Starlark file options used for every plan and module of the project.
// Plans are scripts, so top-level if/for are allowed; while, set, recursion and global reassignment
// stay off until a real plan needs them, which keeps every plan terminating and easy to read.
var Dialect = &syntax.FileOptions{
	TopLevelControl: true,
}
