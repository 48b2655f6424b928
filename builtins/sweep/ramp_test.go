package sweep

import (
	"errors"
	"math"
	"testing"
	"time"

	"starlab/runtime/paramerr"
	"starlab/runtime/runtimetest"
)

var testRamps = map[string]Ramp{
	"linear up":        {Kind: RampLinear, Start: 1, End: 40, Over: 5 * time.Minute, Slices: 10},
	"linear down":      {Kind: RampLinear, Start: 40, End: 1, Over: 5 * time.Minute, Slices: 10},
	"linear flat":      {Kind: RampLinear, Start: 7, End: 7, Over: time.Minute, Slices: 3},
	"exponential up":   {Kind: RampExponential, Start: 2, End: 50, Over: 5 * time.Minute, Slices: 10},
	"exponential down": {Kind: RampExponential, Start: 50, End: 2, Over: 5 * time.Minute, Slices: 10},
	"exponential flat": {Kind: RampExponential, Start: 7, End: 7, Over: time.Minute, Slices: 3},
}

// The rate has vLLM bench's formulas with time for progress, Expected is its integral (checked
// against a numerical one and the closed forms of the whole ramp), and the inverse undoes it.
func TestRampRateExpectedInverse(t *testing.T) {
	for name, r := range testRamps {
		t.Run(name, func(t *testing.T) {
			if err := r.Validate(); err != nil {
				t.Fatal(err)
			}
			o := r.Over.Seconds()
			rampNear(t, "Rate(0)", r.Rate(0), r.Start, 1e-12)
			rampNear(t, "Rate(over)", r.Rate(r.Over), r.End, 1e-9)
			rampNear(t, "Rate(-1s) held at the start", r.Rate(-time.Second), r.Start, 1e-12)
			rampNear(t, "Rate(over+1m) held at the end", r.Rate(r.Over+time.Minute), r.End, 1e-9)
			half := r.Rate(r.Over / 2)
			if r.Kind == RampLinear {
				rampNear(t, "linear Rate(over/2)", half, (r.Start+r.End)/2, 1e-9)
			} else {
				rampNear(t, "exponential Rate(over/2)", half, math.Sqrt(r.Start*r.End), 1e-9)
			}

			whole := (r.Start + r.End) / 2 * o
			if r.Kind == RampExponential && r.Start != r.End {
				whole = (r.End - r.Start) * o / math.Log(r.End/r.Start)
			}
			rampNear(t, "Expected(0, over)", r.Expected(0, r.Over), whole, 1e-9)
			rampNear(t, "Expected past the ramp", r.Expected(-time.Minute, 2*r.Over), whole, 1e-9)

			// Midpoint rule over sub-intervals of [over/7, 3·over/5).
			from, to := r.Over/7, 3*r.Over/5
			const steps = 20000
			dt := (to - from).Seconds() / steps
			var sum float64
			for i := range steps {
				at := from.Seconds() + (float64(i)+0.5)*dt
				sum += r.Rate(rampDur(at)) * dt
			}
			rampNear(t, "Expected(over/7, 3over/5)", r.Expected(from, to), sum, 1e-6)

			for _, frac := range []float64{0, 1e-6, 0.01, 0.25, 0.5, 0.9, 1} {
				s := frac * o
				rampNear(t, "inverse(cumulative(s))", r.inverse(r.cumulative(s)), s, 1e-9)
			}
			if got := r.inverse(whole * 1.5); got <= o {
				t.Errorf("inverse of more sends than the ramp expects = %v s, want past over (%v s)", got, o)
			}
		})
	}
}

// rampNear fails unless got is within rel (relative, or absolute near 0) of want.
func rampNear(t *testing.T, what string, got, want, rel float64) {
	t.Helper()
	if math.Abs(got-want) > rel*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.12g, want %.12g", what, got, want)
	}
}

func TestRampValidateNamesTheParameter(t *testing.T) {
	ok := Ramp{Kind: RampLinear, Start: 1, End: 10, Over: time.Minute, Slices: 10}
	cases := map[string]func(*Ramp){
		"kind":   func(r *Ramp) { r.Kind = "step" },
		"start":  func(r *Ramp) { r.Start = 0 },
		"end":    func(r *Ramp) { r.End = -3 },
		"over":   func(r *Ramp) { r.Over = 0 },
		"slices": func(r *Ramp) { r.Slices = 0 },
	}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for param, spoil := range cases {
		r := ok
		spoil(&r)
		var pe *paramerr.Error
		if err := r.Validate(); !errors.As(err, &pe) || pe.Param != param {
			t.Errorf("spoiled %s: got %v, want an error for parameter %s", param, err, param)
		}
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1)} {
		r := ok
		r.Start = bad
		if r.Validate() == nil {
			t.Errorf("start = %v accepted", bad)
		}
		r = Ramp{Kind: RampExponential, Start: 1, End: bad, Over: time.Minute, Slices: 1}
		if r.Validate() == nil {
			t.Errorf("exponential end = %v accepted", bad)
		}
	}
}

// drainRamp pulls every offset, checking they never go back and end before warmup + over.
func drainRamp(t *testing.T, a arrivals, warmup time.Duration, r Ramp) []time.Duration {
	t.Helper()
	var out []time.Duration
	for {
		at, ok := a.next()
		if !ok {
			break
		}
		if len(out) > 0 && at < out[len(out)-1] {
			t.Fatalf("offset %d (%v) before the previous one (%v)", len(out), at, out[len(out)-1])
		}
		if at >= warmup+r.Over {
			t.Fatalf("offset %v at or past the ramp's end %v", at, warmup+r.Over)
		}
		out = append(out, at)
		if len(out) > 1e6 {
			t.Fatal("the ramp never ends")
		}
	}
	if _, ok := a.next(); ok {
		t.Fatal("next() gave an offset after it had said the ramp was over")
	}
	return out
}

// sliceCounts counts the offsets in [0, warmup) and in each of the ramp's slices.
func sliceCounts(offsets []time.Duration, warmup time.Duration, r Ramp) (inWarmup int, slices []int) {
	slices = make([]int, r.Slices)
	length := float64(r.Over) / float64(r.Slices)
	for _, at := range offsets {
		if at < warmup {
			inWarmup++
			continue
		}
		slices[min(int(float64(at-warmup)/length), r.Slices-1)]++
	}
	return inWarmup, slices
}

func sliceExpected(r Ramp, k int) float64 {
	length := float64(r.Over) / float64(r.Slices)
	return r.Expected(time.Duration(float64(k)*length), time.Duration(float64(k+1)*length))
}

// Poisson sends per slice match the ramp's expected counts: each within 4 standard deviations,
// and all together by a chi-square bound (10 slices: 29.6 is its 99.9% quantile).
func TestRampArrivalsPoissonMatchExpected(t *testing.T) {
	const warmup = 20 * time.Second
	for _, name := range []string{"linear up", "linear down", "exponential up", "exponential down"} {
		r := testRamps[name]
		t.Run(name, func(t *testing.T) {
			offsets := drainRamp(t, newRampArrivals(7, "sweep(ramp)/"+name, r, warmup, ArrivalPoisson, 1), warmup, r)
			inWarmup, counts := sliceCounts(offsets, warmup, r)
			if want := r.Start * warmup.Seconds(); math.Abs(float64(inWarmup)-want) > 4*math.Sqrt(want) {
				t.Errorf("warmup sent %d, want about %.0f (the start rate)", inWarmup, want)
			}
			var chi2 float64
			for k, n := range counts {
				e := sliceExpected(r, k)
				if math.Abs(float64(n)-e) > 4*math.Sqrt(e) {
					t.Errorf("slice %d sent %d, expected %.1f", k, n, e)
				}
				chi2 += (float64(n) - e) * (float64(n) - e) / e
			}
			if chi2 > 29.6 {
				t.Errorf("chi-square %.1f over the slices %v", chi2, counts)
			}
			// The same seed and key give the same sends; another key others.
			again := drainRamp(t, newRampArrivals(7, "sweep(ramp)/"+name, r, warmup, ArrivalPoisson, 1), warmup, r)
			other := drainRamp(t, newRampArrivals(7, "sweep(ramp)/other", r, warmup, ArrivalPoisson, 1), warmup, r)
			if len(again) != len(offsets) || again[len(again)/2] != offsets[len(offsets)/2] {
				t.Error("the same seed and key drew other sends")
			}
			if len(other) == len(offsets) && other[len(other)/2] == offsets[len(offsets)/2] {
				t.Error("another key drew the same sends")
			}
		})
	}
}

// Constant arrivals are the expected counts themselves: within one per slice.
func TestRampArrivalsConstantHitExpected(t *testing.T) {
	const warmup = 10 * time.Second
	for name, r := range testRamps {
		t.Run(name, func(t *testing.T) {
			offsets := drainRamp(t, newRampArrivals(1, "k", r, warmup, ArrivalConstant, 1), warmup, r)
			if offsets[0] != 0 {
				t.Errorf("first send at %v, want 0", offsets[0])
			}
			inWarmup, counts := sliceCounts(offsets, warmup, r)
			if want := r.Start * warmup.Seconds(); math.Abs(float64(inWarmup)-want) > 1 {
				t.Errorf("warmup sent %d, want %.1f", inWarmup, want)
			}
			for k, n := range counts {
				if e := sliceExpected(r, k); math.Abs(float64(n)-e) > 1 {
					t.Errorf("slice %d sent %d, expected %.2f", k, n, e)
				}
			}
		})
	}
}

// Gamma arrivals keep the ramp's mean; a regular process (shape 4) strays less than Poisson.
func TestRampArrivalsGammaKeepMean(t *testing.T) {
	r := testRamps["linear up"]
	offsets := drainRamp(t, newRampArrivals(3, "g", r, 0, ArrivalGamma, 4), 0, r)
	_, counts := sliceCounts(offsets, 0, r)
	for k, n := range counts {
		if e := sliceExpected(r, k); math.Abs(float64(n)-e) > 2*math.Sqrt(e) {
			t.Errorf("slice %d sent %d, expected %.1f", k, n, e)
		}
	}
}

// A ramp shorter than one expected send still ends, and without warmup starts at 0.
func TestRampArrivalsTinyRampEnds(t *testing.T) {
	r := Ramp{Kind: RampExponential, Start: 0.01, End: 0.02, Over: time.Second, Slices: 1}
	offsets := drainRamp(t, newRampArrivals(1, "tiny", r, 0, ArrivalConstant, 1), 0, r)
	if len(offsets) != 1 || offsets[0] != 0 {
		t.Errorf("got %v, want the one send at 0", offsets)
	}
}

// The builtin from a plan: its object, its key, and errors naming the parameter.
func TestRampBuiltinScript(t *testing.T) {
	runtimetest.RunScript(t, "testdata/scripts/ramp_builtin.star", runtimetest.Options{})
}
