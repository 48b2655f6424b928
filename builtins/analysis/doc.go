// Package analysis holds the pure-Go engines behind starlab's analysis
// builtins: find_knee, amdahl, usl, kv_capacity, model_info and hypothesis
// verdicts. The engines take neutral Points (one load level each, fields named
// as `vllm bench serve` names them) so a SweepResult and a published table
// given as dicts are analysed by the same code. Nothing here imports Starlark;
// the bindings are thin wrappers written against this API.
package analysis
