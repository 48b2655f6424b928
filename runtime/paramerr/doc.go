// Package paramerr is the error an engine returns for a bad argument: the parameter it concerns
// and what is wrong, without the builtin's name. The runtime qualifies it once, when the error
// leaves the builtin ("sweep: for parameter rates: ..."), so engines stay free of Starlark and of
// the names plans call them by.
package paramerr
