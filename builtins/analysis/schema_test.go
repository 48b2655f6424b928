package analysis

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"starlab/builtins/sweep/pointschema"
)

// vllmBenchNames are the fields `vllm bench serve` writes that a Point holds by name: tables typed
// from a vLLM bench run and starlab sweeps must agree on them.
func vllmBenchNames() []string {
	names := []string{"request_rate", "max_concurrency", "duration", "completed", "failed", "total_input_tokens",
		"total_output_tokens", "request_throughput", "output_throughput", "total_token_throughput", "request_goodput"}
	for _, metric := range []string{"ttft", "tpot", "itl", "e2el"} {
		for _, stat := range []string{"mean", "median", "std", "p90", "p99"} {
			names = append(names, stat+"_"+metric+"_ms")
		}
	}
	slices.Sort(names)
	return names
}

// A renamed tag in pointschema.Point renames the field here too; this pins the names to vLLM
// bench's.
func TestNamedFieldsAreVLLMBenchNames(t *testing.T) {
	if got, want := FieldNames(), vllmBenchNames(); !slices.Equal(got, want) {
		t.Errorf("named fields (from pointschema.Point) = %v\nwant vLLM bench's %v", got, want)
	}
}

// The fields the engines read by default must be numbers of the point schema.
func TestAnalysisNamesAreInTheSchema(t *testing.T) {
	knee := DefaultKneeOptions()
	amdahl, _ := Amdahl(nil, nil, 0, "")
	for _, name := range []string{knee.X, knee.Y, knee.Latency, amdahl.Metric, SentRateField} {
		f, ok := pointschema.Lookup(pointschema.Fields(), name)
		if !ok || (f.Kind != pointschema.KindFloat && f.Kind != pointschema.KindInt) {
			t.Errorf("analysis reads %q, which is not a number of pointschema.Point (found %v: %+v)", name, ok, f)
		}
	}
}

// filledPoint sets every number of a pointschema.Point to a distinct value and returns the point
// and each number's JSON path with its value.
func filledPoint(t *testing.T) (pointschema.Point, map[string]float64) {
	var p pointschema.Point
	want := map[string]float64{}
	for i, f := range pointschema.Fields() {
		// A list element's numbers (a ramp's slices) are no field of the point itself.
		if (f.Kind != pointschema.KindInt && f.Kind != pointschema.KindFloat) || strings.Contains(f.Path, "[]") {
			continue
		}
		v := reflect.ValueOf(&p).Elem()
		for _, name := range strings.Split(f.Go, ".") {
			if v.Kind() == reflect.Pointer {
				if v.IsNil() {
					v.Set(reflect.New(v.Type().Elem()))
				}
				v = v.Elem()
			}
			v = v.FieldByName(name)
		}
		x := float64(10 + i)
		if v.CanInt() {
			v.SetInt(int64(x))
		} else {
			x += 0.5
			v.SetFloat(x)
		}
		want[f.Path] = x
	}
	if len(want) < 40 {
		t.Fatalf("only %d numbers in pointschema.Point", len(want))
	}
	return p, want
}

// pointsFromSweepJSON reads points as report and replay do: from a sweep's JSON file.
func pointsFromSweepJSON(t *testing.T, pts ...pointschema.Point) []LoadPoint {
	t.Helper()
	data, err := json.Marshal(pts)
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&rows); err != nil {
		t.Fatal(err)
	}
	out, err := PointsFromMaps(rows)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every number a sweep writes is reachable through Field under its schema path, the named ones in
// their slots.
func TestSweepPointFieldsReachable(t *testing.T) {
	sp, want := filledPoint(t)
	p := pointsFromSweepJSON(t, sp)[0]
	for path, x := range want {
		if got, ok := p.Field(path); !ok || got != x {
			t.Errorf("Field(%q) = %v, %v; want %v as the sweep wrote it", path, got, ok, x)
		}
	}
	for _, name := range FieldNames() {
		if _, extra := p.Extra[name]; extra {
			t.Errorf("%q landed in Extra, not in its slot", name)
		}
	}
}

// The engines read a sweep's JSON through the schema's names: Delivered in tokens, FindKnee on
// its default fields, Amdahl on its default metric.
func TestEnginesReadSweepJSON(t *testing.T) {
	var pts []pointschema.Point // 100 tokens a request, 90 a second per request/s in the window
	for _, rate := range []float64{2, 4, 8, 16, 32} {
		got := math.Min(rate, 10)
		pts = append(pts, pointschema.Point{RequestRate: pointschema.Float(rate), Completed: int(got * 60),
			TotalOutputTokens: int(got * 60 * 100), RequestThroughput: pointschema.Float(got),
			OutputThroughput: pointschema.Float(got * 90), MedianTTFTMs: pointschema.Float(50 * rate),
			Client: pointschema.ClientStats{AchievedSendRate: pointschema.Float(rate)}})
	}
	points := pointsFromSweepJSON(t, pts...)
	if f, ok := Delivered(points[4]); !ok || math.Abs(f-0.9*10/32) > 1e-12 {
		t.Errorf("Delivered = %v, %v; want 0.9·10/32 from output_throughput, total_output_tokens, completed and client.achieved_send_rate", f, ok)
	}
	k, err := FindKnee(points, DefaultKneeOptions())
	if err != nil || !k.Found {
		t.Errorf("FindKnee on a sweep's JSON: found %v, err %v", k.Found, err)
	}
	if _, err := Amdahl(points, points, 2, ""); err != nil {
		t.Errorf("Amdahl on a sweep's JSON: %v", err)
	}
}
