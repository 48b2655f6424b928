package sweep

import (
	"reflect"

	"starlab/builtins/gpu"
	"starlab/builtins/sweep/pointschema"
)

// A point's types are defined in pointschema, the one source of the point schema, so that analysis
// and report read the same field names without importing the load generator.
type (
	// Point is one load level, with `vllm bench serve`'s field names (pointschema.Point).
	Point = pointschema.Point
	// ClientStats says whether the load generator itself held the point back.
	ClientStats = pointschema.ClientStats
	// ServerMetrics summarises the server's /metrics (or virtual.Stats) sampled about once a second.
	ServerMetrics = pointschema.ServerMetrics
)

// PointFields is the whole schema of a point as sweeps/<name>.json holds it: pointschema.Fields,
// with the elements of client.workers (WorkerStats) and the fields of the gpu.PointTelemetry that
// fills gpu.
func PointFields() []pointschema.Field {
	var fields []pointschema.Field
	for _, f := range pointschema.Fields() {
		if f.Go != "Client.Workers" {
			fields = append(fields, f)
			continue
		}
		f.Kind = pointschema.KindList // raw in pointschema, a list of WorkerStats here
		fields = append(fields, f)
		for _, e := range pointschema.Describe(reflect.TypeFor[WorkerStats]()) {
			e.Path, e.Go = f.Path+"[]."+e.Path, f.Go+"[]."+e.Go
			fields = append(fields, e)
		}
	}
	for _, f := range pointschema.Describe(reflect.TypeFor[gpu.PointTelemetry]()) {
		f.Path, f.Go = pointschema.GPU+"."+f.Path, "GPU."+f.Go
		fields = append(fields, f)
	}
	return fields
}

// pointIntFields names the fields that count things, the keys pointDict makes Starlark ints.
// runtime.FromJSON knows a value by its key alone, so a key is an int wherever it appears; map
// values (errors' counts) are keyed by their run-time names and stay floats.
func pointIntFields() map[string]bool {
	ints := map[string]bool{}
	for _, f := range PointFields() {
		if f.Kind == pointschema.KindInt {
			ints[f.Key()] = true
		}
	}
	return ints
}
