package analysis

import (
	"encoding/json"
	"math"
	"testing"

	"starlab/builtins/sweep/pointschema"
)

// rampPointJSON is a ramp point as a sweep writes it: slices of the real schema, marshalled (NaN
// figures become null) and read back as a plan's dicts are.
func rampPointJSON(t *testing.T, slices []pointschema.Slice) map[string]any {
	t.Helper()
	data, err := json.Marshal(pointschema.Point{RequestRate: 20, Slices: slices,
		Ramp: &pointschema.RampInfo{Kind: "linear", Start: 1, End: 40, OverS: 100}})
	if err != nil {
		t.Fatal(err)
	}
	var row map[string]any
	if err := json.Unmarshal(data, &row); err != nil {
		t.Fatal(err)
	}
	return row
}

// A plateauing ramp's slices give the knee where the slices stop keeping up; the empty slice
// (null figures) is left out and each slice offers what it sent.
func TestRampSlicesKnee(t *testing.T) {
	nan := pointschema.Float(math.NaN())
	slices := []pointschema.Slice{{StartS: 0, EndS: 10, RequestRate: 0.05, MedianTTFTMs: nan, Delivered: nan,
		MeanTTFTMs: nan, P99TTFTMs: nan, MeanTPOTMs: nan, MedianTPOTMs: nan, MeanE2ELMs: nan, MedianE2ELMs: nan, P99E2ELMs: nan}}
	for k, rate := range []float64{4, 8, 12, 16, 20, 24, 28, 32, 36} {
		sent := int(rate*10) + k%2 // a send more or less than the rate: noise the sent rate absorbs
		x := math.Min(float64(sent)/10, 13)
		ttft := 60.0
		if rate > 13 {
			ttft = 60 + 400*(rate-13)
		}
		slices = append(slices, pointschema.Slice{StartS: pointschema.Float(10 * (k + 1)), EndS: pointschema.Float(10 * (k + 2)),
			RequestRate: pointschema.Float(rate), Sent: sent, Completed: int(x * 10), RequestThroughput: pointschema.Float(x),
			OutputThroughput: pointschema.Float(100 * x), MeanTTFTMs: pointschema.Float(ttft), MedianTTFTMs: pointschema.Float(ttft),
			P99TTFTMs: pointschema.Float(2 * ttft), MeanTPOTMs: 20, MedianTPOTMs: 20, MeanE2ELMs: pointschema.Float(ttft + 2000),
			MedianE2ELMs: pointschema.Float(ttft + 2000), P99E2ELMs: pointschema.Float(ttft + 4000), Delivered: pointschema.Float(x * 10 / float64(sent))})
	}
	rows, ok := RampSlices([]map[string]any{rampPointJSON(t, slices)})
	if !ok || len(rows) != 9 {
		t.Fatalf("RampSlices: ok=%v, %d rows, want 9 (the empty slice left out)", ok, len(rows))
	}
	points, err := PointsFromMaps(rows)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := points[0].Field(SentRateField); got != 4.0 {
		t.Errorf("slice 1 offered %v req/s, want its 40 sends over 10 s", got)
	}
	k, err := FindKnee(points, DefaultKneeOptions())
	if err != nil {
		t.Fatal(err)
	}
	if !k.Found || k.Rate != 12 || k.Bracket != [2]float64{12, 16} || k.Method != MethodOffered {
		t.Fatalf("knee %+v, want found at 12 in [12, 16] by offered load", k)
	}
	if k.MaxThroughput != 13 || !k.RateCI.Unknown() {
		t.Errorf("plateau %v (want 13), rate ci %v (want none: slices carry no intervals)", k.MaxThroughput, k.RateCI)
	}
	for _, v := range k.Verdicts {
		if !v.ValueOnly {
			t.Errorf("slice at %v decided on an interval it does not have: %+v", v.Load, v)
		}
	}
}

// Only a table of exactly one point with slices is a ramp.
func TestRampSlicesOnlyForOneRampPoint(t *testing.T) {
	ramp := map[string]any{"request_rate": 5.0, "slices": []any{map[string]any{"request_rate": 1.0, "sent": 3, "start_s": 0.0, "end_s": 2.0}}}
	for name, rows := range map[string][]map[string]any{
		"two points":   {ramp, ramp},
		"no slices":    {{"request_rate": 5.0}},
		"empty slices": {{"request_rate": 5.0, "slices": []any{}}},
		"none":         nil,
	} {
		if _, ok := RampSlices(rows); ok {
			t.Errorf("%s: read as a ramp", name)
		}
	}
	rows, ok := RampSlices([]map[string]any{ramp})
	if !ok || len(rows) != 1 || rows[0]["client"].(map[string]any)["achieved_send_rate"] != 1.5 {
		t.Errorf("one ramp point: ok=%v rows=%v", ok, rows)
	}
	if _, has := ramp["slices"].([]any)[0].(map[string]any)["client"]; has {
		t.Error("RampSlices changed the plan's own slice")
	}
}
