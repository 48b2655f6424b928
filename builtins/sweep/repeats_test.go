package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"starlab/builtins/gpu"
	"starlab/builtins/sweep/pointschema"
	"starlab/stats"
)

// Every round visits every load once, the rounds are numbered, the order is a function of the
// seed and key alone, and rounds differ: the loads are interleaved, not measured in blocks.
func TestRepeatOrder(t *testing.T) {
	const loads, repeats, seeds = 4, 3, 200
	differ := 0
	for seed := range uint64(seeds) {
		order := repeatOrder(seed, "k", loads, repeats)
		if len(order) != loads*repeats {
			t.Fatalf("seed %d: %d visits, want %d", seed, len(order), loads*repeats)
		}
		var rounds [][]int
		for k := range repeats {
			var round []int
			for _, v := range order[k*loads : (k+1)*loads] {
				if v.repeat != k {
					t.Fatalf("seed %d: visit %v in round %d", seed, v, k)
				}
				round = append(round, v.load)
			}
			if sorted := slices.Sorted(slices.Values(round)); !slices.Equal(sorted, []int{0, 1, 2, 3}) {
				t.Fatalf("seed %d: round %d visits %v, not every load once", seed, k, round)
			}
			rounds = append(rounds, round)
		}
		if !slices.Equal(rounds[0], rounds[1]) {
			differ++
		}
		if again := repeatOrder(seed, "k", loads, repeats); !slices.Equal(order, again) {
			t.Fatalf("seed %d: two draws differ: %v, %v", seed, order, again)
		}
	}
	// Two rounds of 4 loads are the same by chance 1/24 of the time.
	if differ < seeds*9/10 {
		t.Errorf("rounds differ for only %d of %d seeds", differ, seeds)
	}
	if slices.Equal(repeatOrder(1, "a", 8, 2), repeatOrder(1, "b", 8, 2)) {
		t.Error("the key does not change the order")
	}
}

// fakePoint is a measurement whose figures depend on the load and the repeat's key, with an
// interval of its own, as a measured point has.
func fakePoint(o Options, s PointSpec) Point {
	h := float64(NewRand(o.Seed, o.Key).IntN(100)) / 100 // the repeat's own noise
	p := o.newPoint(s)
	p.Completed, p.Failed, p.TotalOutputTokens = 10*s.Index+1, 1, 100*(s.Index+1)
	p.Errors = map[string]int{"timeout": 1}
	p.RequestThroughput = Float(s.Rate*0.9 + h)
	p.MedianTTFTMs = Float(50 + 10*h)
	p.P99TTFTMs = Float(math.NaN())
	p.Duration = Float(10 + h)
	p.Confidence = 0.9
	p.CI = map[string][2]Float{"request_throughput": {p.RequestThroughput - 0.5, p.RequestThroughput + 0.5}}
	p.SteadyState = &pointschema.SteadyState{OK: true, ThroughputHalves: [2]Float{1, 2}}
	p.Checks = []pointschema.Check{{Name: "tokens", OK: true, Detail: "fine"}}
	return p
}

// A sweep with repeats measures in repeatOrder's order, each repeat under its own key and with
// its requests marked, and leaves one aggregated point per load, in the loads' order, on disk
// after every repeat.
func TestRunRepeats(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(dir, "rep")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	c := Config{Name: "rep", Rates: []float64{2, 4, 8}, Repeats: 3, Writer: w,
		Options: Options{Seed: 7, Key: "base"}}
	var visits []visit
	var keys []string
	measure := func(ctx context.Context, o Options, s PointSpec) (Point, error) {
		if n := len(visits); n > 0 {
			// The points file holds what was measured so far: every load seen, aggregated.
			var onDisk []Point
			data, _ := os.ReadFile(w.PointsPath())
			if err := json.Unmarshal(data, &onDisk); err != nil {
				t.Fatal(err)
			}
			seen := map[int]bool{}
			for _, v := range visits {
				seen[v.load] = true
			}
			if len(onDisk) != len(seen) {
				t.Errorf("after %d repeats the file has %d points, want %d", n, len(onDisk), len(seen))
			}
		}
		k := strings.TrimPrefix(o.Key, "base, repeat=")
		var rep int
		fmt.Sscan(k, &rep)
		visits, keys = append(visits, visit{s.Index, rep}), append(keys, o.Key)
		o.OnRecord(s, &RequestRecord{Index: 0})
		return fakePoint(o, s), nil
	}
	res, err := RunWith(context.Background(), c, measure)
	if err != nil {
		t.Fatal(err)
	}
	if want := repeatOrder(7, "base", 3, 3); !slices.Equal(visits, want) {
		t.Errorf("visits %v, want %v", visits, want)
	}
	if !slices.Contains(keys, "base, repeat=2") || slices.Contains(keys, "base") {
		t.Errorf("keys %v lack the repeat", keys)
	}
	if len(res.Points) != 3 {
		t.Fatalf("%d points, want 3", len(res.Points))
	}
	for i, p := range res.Points {
		if float64(p.RequestRate) != c.Rates[i] || len(p.Repeats) != 3 {
			t.Errorf("point %d: rate %v with %d repeats", i, p.RequestRate, len(p.Repeats))
		}
		for k, q := range p.Repeats {
			if q.Repeat != k || q.Repeats != nil {
				t.Errorf("point %d: repeat %d is numbered %d", i, k, q.Repeat)
			}
		}
		if p.Completed != 3*(10*i+1) {
			t.Errorf("point %d: completed %d, want the repeats' sum", i, p.Completed)
		}
	}
	w.Flush()
	reqs, _ := os.ReadFile(w.RequestsPath())
	var got []visit
	for _, line := range strings.Split(strings.TrimSpace(string(reqs)), "\n") {
		var l RequestLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatal(err)
		}
		if (l.Repeat == 0) != !strings.Contains(line, `"repeat"`) {
			t.Errorf("line %s: repeat 0 is left out, others are written", line)
		}
		got = append(got, visit{l.Point, l.Repeat})
	}
	if !slices.Equal(got, visits) {
		t.Errorf("requests file has %v, want %v", got, visits)
	}
}

// A repeat that fails stops the sweep with every load's repeats so far aggregated.
func TestRunRepeatsFailureKeepsWhatWasMeasured(t *testing.T) {
	c := Config{Rates: []float64{2, 4}, Repeats: 2, Options: Options{Seed: 1, Key: "k"}}
	n := 0
	res, err := RunWith(context.Background(), c, func(ctx context.Context, o Options, s PointSpec) (Point, error) {
		if n++; n == 3 {
			return Point{}, errors.New("server died")
		}
		return fakePoint(o, s), nil
	})
	if err == nil || len(res.Points) != 2 {
		t.Fatalf("err %v, %d points", err, len(res.Points))
	}
	for _, p := range res.Points {
		if len(p.Repeats) != 1 || p.RequestThroughput != p.Repeats[0].RequestThroughput ||
			p.CI["request_throughput"] != p.Repeats[0].CI["request_throughput"] {
			t.Errorf("one repeat so far must read as that repeat: %+v", p)
		}
	}
}

// The aggregate's rules: counts add up, rates and latencies are means (an unknown value left
// out), maxima are maxima, the interval is Student t's across the repeats, and steady state,
// checks, stop reasons and GPU energy combine as documented.
func TestAggregateRepeats(t *testing.T) {
	o := Options{Seed: 3, Key: "k", Arrival: ArrivalPoisson, Burstiness: 1}
	s := PointSpec{Index: 1, Rate: 4}
	var reps []Point
	energy := []float64{100, 200, 300}
	for k := range 3 {
		p := fakePoint(Options{Seed: 3, Key: repeatKey(o.Key, k), Arrival: o.Arrival, Burstiness: 1}, s)
		p.Repeat = k
		p.ServerMetrics = &ServerMetrics{Samples: 10, MaxRunning: Float(5 + k), Preemptions: 1}
		p.Client.SendLagMaxMs = Float(k)
		if k == 1 {
			p.MedianTTFTMs = Float(math.NaN())
			p.StoppedEarly, p.StopReason = true, "saturated"
			p.SteadyState = &pointschema.SteadyState{OK: false, Detail: "throughput fell", ThroughputHalves: [2]Float{4, 2}}
		}
		e := energy[k]
		p.GPU, _ = json.Marshal(gpu.PointTelemetry{EnergyJ: &e, OutputTokens: 100,
			Devices: []gpu.Summary{{Device: gpu.Device{Index: 0, UUID: "GPU-1"}, Samples: 5, EnergyJ: &e}}})
		reps = append(reps, p)
	}
	a := aggregateRepeats(reps, 0.95)

	if a.Completed != 3*11 || a.Failed != 3 || a.Errors["timeout"] != 3 || a.ServerMetrics.Samples != 30 {
		t.Errorf("counts are not summed: completed %d failed %d errors %v samples %d", a.Completed, a.Failed, a.Errors, a.ServerMetrics.Samples)
	}
	if want := reps[0].Duration + reps[1].Duration + reps[2].Duration; a.Duration != want {
		t.Errorf("duration %v, want the windows' sum %v (completed / duration is the pooled rate)", a.Duration, want)
	}
	if a.MaxConcurrency != 0 || a.RequestRate != 4 || a.Arrival != "poisson" || a.Confidence != 0.9 {
		t.Errorf("identity fields changed: %+v", a)
	}
	tput := make([]float64, 3)
	for k, r := range reps {
		tput[k] = float64(r.RequestThroughput)
	}
	mean, ci := stats.MeanInterval(tput, 0.9)
	if float64(a.RequestThroughput) != mean {
		t.Errorf("request_throughput %v, want the mean %v", a.RequestThroughput, mean)
	}
	if got := a.CI["request_throughput"]; float64(got[0]) != ci.Lo || float64(got[1]) != ci.Hi {
		t.Errorf("ci %v, want the t interval at the repeats' confidence %v", got, ci)
	}
	if want := (reps[0].MedianTTFTMs + reps[2].MedianTTFTMs) / 2; a.MedianTTFTMs != want {
		t.Errorf("median_ttft_ms %v, want %v (the unknown repeat left out)", a.MedianTTFTMs, want)
	}
	if !math.IsNaN(float64(a.P99TTFTMs)) {
		t.Errorf("p99 unknown in every repeat is %v", a.P99TTFTMs)
	}
	if a.ServerMetrics.MaxRunning != 7 || a.Client.SendLagMaxMs != 2 || a.ServerMetrics.Preemptions != 3 {
		t.Errorf("max_running %v send_lag_max_ms %v preemptions %v", a.ServerMetrics.MaxRunning, a.Client.SendLagMaxMs, a.ServerMetrics.Preemptions)
	}
	if !a.StoppedEarly || a.StopReason != "repeat 1: saturated" {
		t.Errorf("stopped_early %v, stop_reason %q", a.StoppedEarly, a.StopReason)
	}
	if ss := a.SteadyState; ss.OK || ss.Detail != "repeat 1: throughput fell" || ss.ThroughputHalves != [2]Float{2, 2} {
		t.Errorf("steady_state %+v", ss)
	}
	if len(a.Checks) != 3 || a.Checks[2].Detail != "repeat 2: fine" {
		t.Errorf("checks %+v", a.Checks)
	}
	if len(a.Repeats) != 3 || a.Repeat != 0 || a.Repeats[1].StopReason != "saturated" {
		t.Errorf("repeats are not kept as measured")
	}
	var g gpu.PointTelemetry
	if err := json.Unmarshal(a.GPU, &g); err != nil {
		t.Fatal(err)
	}
	if *g.EnergyJ != 600 || g.OutputTokens != 300 || *g.JoulesPerOutputToken != 2 ||
		len(g.Devices) != 1 || g.Devices[0].Device.Index != 0 || g.Devices[0].Samples != 15 || *g.Devices[0].EnergyJ != 600 {
		t.Errorf("gpu %s", a.GPU)
	}
	// Aggregating is a pure function of the repeats: the file is the same on every run.
	b := aggregateRepeats(reps, 0.95)
	da, _ := json.Marshal(a)
	db, _ := json.Marshal(b)
	if string(da) != string(db) {
		t.Error("two aggregations differ")
	}
}
