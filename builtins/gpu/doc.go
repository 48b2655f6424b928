// Package gpu samples GPU telemetry through NVML (github.com/NVIDIA/go-nvml)
// so that every sweep point can report power, energy and utilisation next to
// its throughput.
//
// The engine works on an nvml.Interface: the real library (Open), a simulated
// one built from the simulator's per-GPU state (NewSimInterface), or a test
// mock. All three go through the same Sampler code path, so plans and tests
// see the same telemetry shape with or without hardware.
//
// The engine files import neither Starlark nor the runtime. The Starlark
// bindings are binding_sample.go, which registers the nvml_sample builtin,
// and binding_values.go, its GpuSamples result. Two files use the runtime
// but not Starlark: runhook.go, the per-run NVML library with its manifest
// entry and busy check (a run hook), and pointprobe.go, PointProbe, the
// sweep's per-point probe.
package gpu
