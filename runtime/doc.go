// Package runtime is the Starlark host of starlab: the dialect, the thread factory, the load()
// resolver, plan parameters, the run directory with its manifest, the journal that makes
// side-effecting builtins resumable and replayable, cancellation, and the builtin registry that the
// domain packages under builtins/ join. It registers the two builtins every plan needs, param
// (params.go) and sleep_step (sleepstep.go); reference.go renders `starlab doc`.
package runtime
