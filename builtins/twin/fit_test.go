package twin_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"starlab/builtins/sim"
	"starlab/builtins/sweep"
	"starlab/builtins/twin"
)

// truth is a CPU-engine-like step cost: what a llama.cpp server with 4 slots behaves like.
var truth = sim.LinearCost{FixedMs: 8, PerPrefillTokenMs: 0.25, PerPrefillSeqMs: 2, PerDecodeSeqMs: 3, PerContextTokenMs: 0.004, RequestOverheadMs: 4}

var limits = sim.Limits{MaxNumSeqs: 4, MaxNumBatchedTokens: 512, KVTokens: 4 * 512, MaxModelLen: 512, TensorParallel: 1}

func probeOptions(t testing.TB, seed uint64, duration time.Duration) sweep.Options {
	t.Helper()
	ds, err := sweep.NewRandom(sweep.RandomSpec{InputLen: 64, OutputLen: 64, RangeRatio: 0.5, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return sweep.Options{Dataset: ds, Seed: seed, Key: "probe", Warmup: 3 * time.Second, Duration: duration,
		Arrival: sweep.ArrivalPoisson, Confidence: 0.95, Progress: sweep.ProgressOptions{Disable: true},
		Logger: zerolog.Nop(), Timeout: 10 * time.Minute, Grace: 10 * time.Minute}
}

// measure runs a point on a server whose step cost is cost: the stand-in for a real engine.
func measure(t testing.TB, cost sim.LinearCost, o sweep.Options, spec sweep.PointSpec) sweep.Point {
	p, _ := measureRequests(t, cost, o, spec)
	return p
}

// measureRequests is measure with the measured window's requests, as a requests file holds them.
func measureRequests(t testing.TB, cost sim.LinearCost, o sweep.Options, spec sweep.PointSpec) (sweep.Point, []twin.Request) {
	t.Helper()
	cfg := sim.Config{Model: "Llama-3.1-8B", Calibration: &sim.Calibration{Step: cost, Limits: limits}}
	srv, err := sim.NewVirtual(cfg, 99)
	if err != nil {
		t.Fatal(err)
	}
	var reqs []twin.Request
	o.OnRecord = func(_ sweep.PointSpec, r *sweep.RequestRecord) {
		if !r.Warmup && r.OK() {
			reqs = append(reqs, twin.Request{InputTokens: r.InputTokens, TTFTMs: float64(r.TTFT()) / 1e6})
		}
	}
	p, err := sweep.RunVirtualPoint(context.Background(), srv, o, spec)
	if err != nil {
		t.Fatal(err)
	}
	return p, reqs
}

// noisy multiplies the fitted metrics by lognormal noise of relative size sigma, the way a
// real server's minute-to-minute drift moves them.
func noisy(p sweep.Point, rng *rand.Rand, sigma float64) sweep.Point {
	f := func() sweep.Float { return sweep.Float(math.Exp(sigma * rng.NormFloat64())) }
	p.RequestThroughput *= f()
	p.MeanTTFTMs *= f()
	p.MeanTPOTMs *= f()
	return p
}

// Fitting recovers the parameters of a known engine from closed-loop points at concurrency 1, 2
// and 4 measured with noise, and the fitted twin predicts a load it never saw (concurrency 8,
// past the slots) within a few percent.
func TestFitRecoversKnownParameters(t *testing.T) {
	for _, tc := range []struct {
		name  string
		noise float64
		tol   float64 // relative tolerance on the fixed and per-sequence costs
		pred  float64 // relative tolerance on a full step and on predictions
	}{
		{"exact", 0, 0.05, 0.03},
		{"3% noise", 0.03, 0.25, 0.10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 1))
			o := probeOptions(t, 11, 30*time.Second)
			var pts []twin.Point
			for i, c := range []int{1, 2, 4} {
				spec := sweep.PointSpec{Index: i, Concurrency: c}
				m, reqs := measureRequests(t, truth, o, spec)
				for j := range reqs {
					reqs[j].TTFTMs *= math.Exp(tc.noise * rng.NormFloat64())
				}
				pts = append(pts, twin.Point{Sweep: "probe", Index: i, Options: o, Spec: spec,
					Measured: noisy(m, rng, tc.noise), Requests: reqs})
			}
			res, err := twin.Fit(context.Background(), twin.Problem{Base: sim.Config{Model: "Llama-3.1-8B"}, Limits: limits, Points: pts, Seed: 5})
			if err != nil {
				t.Fatal(err)
			}
			got := res.Step
			t.Logf("fitted %+v in %d iterations; R² %.4f, MAPE %.2f%%; unidentified %v; CI %v", got, res.Fit.Iterations,
				res.Fit.R2, res.Fit.MAPEPct, res.Fit.Unidentified, res.CI)
			for _, c := range []struct {
				name      string
				got, want float64
			}{
				{"fixed_ms", got.FixedMs, truth.FixedMs},
				// The requests' TTFT against their prompt lengths separates these two.
				{"per_prefill_token_ms", got.PerPrefillTokenMs, truth.PerPrefillTokenMs},
				{"request_overhead_ms", got.RequestOverheadMs, truth.RequestOverheadMs},
				// Every sequence attends to about 100 tokens here: what the data determine is a
				// sequence's cost at that context, not how it splits between the two terms.
				{"per_decode_seq_ms + 100 per_context_token_ms", got.PerDecodeSeqMs + 100*got.PerContextTokenMs,
					truth.PerDecodeSeqMs + 100*truth.PerContextTokenMs},
			} {
				if math.Abs(c.got/c.want-1) > tc.tol {
					t.Errorf("%s = %.4g, want %.4g within %.0f%%", c.name, c.got, c.want, 100*tc.tol)
				}
			}
			// What the twin is for: a decode-bound step at full batch, and a prompt's cost.
			full := func(l sim.LinearCost) float64 {
				return l.FixedMs + 4*(l.PerDecodeSeqMs+100*l.PerContextTokenMs) + 64*l.PerPrefillTokenMs + l.PerPrefillSeqMs
			}
			if math.Abs(full(got)/full(truth)-1) > tc.pred {
				t.Errorf("a full step with a prompt: %.3g ms, want %.3g", full(got), full(truth))
			}
			if tc.noise == 0 && res.Fit.MAPEPct > 1 {
				t.Errorf("noise-free fit has MAPE %.2f%%", res.Fit.MAPEPct)
			}
			for name, ci := range res.CI {
				if !(ci[0] <= ci[1]) || ci[0] < 0 {
					t.Errorf("%s interval %v", name, ci)
				}
			}
			if len(res.Fit.Points) != 3 || res.Range.Running != [2]float64{1, 4} {
				t.Errorf("fit points %d, running range %v", len(res.Fit.Points), res.Range.Running)
			}

			// Out of sample: twice the slots, on requests the fit never saw.
			o8 := probeOptions(t, 12, 30*time.Second)
			spec := sweep.PointSpec{Concurrency: 8}
			want := measure(t, truth, o8, spec)
			pred, err := twin.Predict(context.Background(), twin.Problem{Base: sim.Config{Model: "Llama-3.1-8B"}, Limits: limits,
				Points: []twin.Point{{Options: o8, Spec: spec}}, Seed: 5}, res.Step)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range []struct {
				name      string
				got, want sweep.Float
			}{
				{"request_throughput", pred[0].RequestThroughput, want.RequestThroughput},
				{"mean_tpot_ms", pred[0].MeanTPOTMs, want.MeanTPOTMs},
			} {
				if e := math.Abs(float64(m.got/m.want) - 1); e > tc.pred {
					t.Errorf("concurrency 8: %s predicted %.4g, measured %.4g (%.1f%% off)", m.name, m.got, m.want, 100*e)
				}
			}
		})
	}
}

// Parameters held with Fixed stay where they are and are reported as fixed; unknown names are
// an error.
func TestFitFixedParameters(t *testing.T) {
	o := probeOptions(t, 3, 20*time.Second)
	var pts []twin.Point
	for i, c := range []int{1, 4} {
		spec := sweep.PointSpec{Index: i, Concurrency: c}
		pts = append(pts, twin.Point{Sweep: "probe", Index: i, Options: o, Spec: spec, Measured: measure(t, truth, o, spec)})
	}
	p := twin.Problem{Base: sim.Config{Model: "Llama-3.1-8B"}, Limits: limits, Points: pts, Seed: 5,
		Fixed: map[string]float64{"per_context_token_ms": 0, "request_overhead_ms": 4}}
	res, err := twin.Fit(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Step.PerContextTokenMs != 0 || res.Step.RequestOverheadMs != 4 || len(res.Fit.Fixed) != 2 || res.Fit.Parameters != 4 {
		t.Errorf("fixed parameters moved or were not reported: %+v, fit %+v", res.Step, res.Fit)
	}
	p.Fixed = map[string]float64{"per_token": 1}
	if _, err := twin.Fit(context.Background(), p); err == nil {
		t.Error("an unknown fixed parameter was accepted")
	}
}
