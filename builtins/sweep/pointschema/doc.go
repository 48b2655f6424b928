// Package pointschema is the one definition of a sweep point: the Point type that sweep fills and
// writes to sweeps/<name>.json with `vllm bench serve`'s field names, and Fields, the schema read
// from Point's JSON tags by reflection. analysis and report take their field names from here, so a
// renamed field fails a test instead of silently emptying a report column. It is a leaf (it
// imports no other starlab package but jsonnum), so analysis and report can use it without
// pulling in the load generator. It registers no builtin.
package pointschema
