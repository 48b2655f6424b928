// Package gpu samples GPU telemetry through NVML (github.com/NVIDIA/go-nvml)
// so that every sweep point can report power, energy and utilisation next to
// its throughput.
//
// The engine works on an nvml.Interface: the real library (Open), a simulated
// one built from the simulator's per-GPU state (NewSimInterface), or a test
// mock. All three go through the same Sampler code path, so plans and tests
// see the same telemetry shape with or without hardware.
//
// The package has no Starlark dependency; bindings live elsewhere.
package gpu
