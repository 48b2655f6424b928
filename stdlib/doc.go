// Package stdlib holds the Starlark helper modules that plans load as "@stdlib//NAME.star". They
// are embedded in the binary, so a plan's loads resolve the same on every machine.
package stdlib
