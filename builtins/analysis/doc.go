// Package analysis holds the pure-Go engines behind starlab's analysis
// builtins: find_knee, amdahl, usl, kv_capacity, model_info, delivered and
// hypothesis verdicts. The engines take neutral Points (one load level each,
// fields named as `vllm bench serve` names them) so a SweepResult and a
// published table given as dicts are analysed by the same code.
//
// The engine files import nothing of Starlark. The Starlark bindings are the
// binding_*.go files, one per builtin they register (amdahl, delivered,
// find_knee, hypothesis, kv_capacity, model_info, usl) plus binding_values.go,
// the conversions they share; runrecord.go keeps what they computed in the
// run so that report() includes it.
package analysis
