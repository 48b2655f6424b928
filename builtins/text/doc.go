// Package text holds the plan's formatting builtins: fmt, printf-style formatting with Go's
// precision rules (Starlark's % operator has no precision), and round, Python's round. Plans used
// to carry their own rounding helpers; these replace them.
package text
