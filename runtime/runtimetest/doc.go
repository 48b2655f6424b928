// Package runtimetest runs testdata/*.star scripts against the registered builtins, with
// go.starlark.net's assert module (assert.eq, assert.true, assert.fails, ...), each script in a run
// of its own: a fresh temporary run directory, the virtual clock, and the default seed. It is how
// every builtin package tests its bindings the way plans use them.
package runtimetest
