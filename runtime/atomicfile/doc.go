// Package atomicfile writes a file so that a reader, or a run killed in the middle of the write,
// never sees half of it: the data goes to a temporary file in the same directory, is synced, and
// is renamed over the target. It imports nothing of Starlark, so engines use it too.
package atomicfile
