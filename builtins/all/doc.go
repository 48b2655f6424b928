// Package all links every domain package's builtins into the binary: a blank import of
// analysis, gpu, report, server and sweep (and runtime's own param and sleep_step), each of which
// registers its builtins with the runtime in its init functions. It holds no code of its own.
package all
