// Package virtual is the contract between the load generator and a server that runs in simulated
// (discrete-event) time. A sweep point against such a server needs no HTTP and no wall clock: the
// driver submits requests at their intended times, advances the clock, and receives the same
// per-chunk events a streaming HTTP client would see. `starlab run --virtual` uses it to preview a
// plan of hours in seconds, with byte-identical results for a seed. It registers no builtin.
package virtual
