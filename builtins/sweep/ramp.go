package sweep

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"starlab/builtins/sweep/pointschema"
	"starlab/runtime/paramerr"
)

// Ramp kinds, as vLLM bench's --ramp-up-strategy names them.
const (
	RampLinear      = "linear"
	RampExponential = "exponential"
)

// Ramp is a rate ramp: the target rate goes from Start to End requests/s over Over, linearly or
// exponentially, and the report cuts Over into Slices equal time slices. vLLM bench ramps over the
// request count; a ramp here runs over time, so that a slice of the report is a stretch of load
// whose length does not depend on the rates.
type Ramp struct {
	Kind       string
	Start, End float64
	Over       time.Duration
	Slices     int
}

// Validate names the parameter a bad ramp got wrong.
func (r Ramp) Validate() error {
	if r.Kind != RampLinear && r.Kind != RampExponential {
		return paramerr.New("kind", "want \"linear\" or \"exponential\", got %q", r.Kind)
	}
	if !(r.Start > 0) || math.IsInf(r.Start, 0) {
		return paramerr.New("start", "want a finite rate > 0 requests/s, got %v", r.Start)
	}
	if !(r.End > 0) || math.IsInf(r.End, 0) {
		return paramerr.New("end", "want a finite rate > 0 requests/s, got %v", r.End)
	}
	if r.Over <= 0 {
		return paramerr.New("over", "want a duration > 0, got %v", r.Over)
	}
	if r.Slices < 1 {
		return paramerr.New("slices", "want at least 1, got %d", r.Slices)
	}
	return nil
}

// String is the ramp's canonical form, part of the step keys of the sweeps that use it.
func (r Ramp) String() string {
	return fmt.Sprintf("ramp(%s, start=%g, end=%g, over=%s, slices=%d)", r.Kind, r.Start, r.End, r.Over, r.Slices)
}

// Info is the ramp as a point reports it.
func (r Ramp) Info() pointschema.RampInfo {
	return pointschema.RampInfo{Kind: r.Kind, Start: pointschema.Float(r.Start), End: pointschema.Float(r.End),
		OverS: pointschema.Float(r.Over.Seconds())}
}

// growth is the exponential ramp's rate constant per second, ln(End/Start)/Over: 0 for a flat ramp.
func (r Ramp) growth() float64 { return math.Log(r.End/r.Start) / r.Over.Seconds() }

// clampS is ramp time t in seconds, held to [0, Over].
func (r Ramp) clampS(t time.Duration) float64 {
	return min(max(t, 0), r.Over).Seconds()
}

// Rate is the target rate at ramp time t (held to [0, Over]): linear start+(end−start)·t/over,
// exponential start·(end/start)^(t/over), as vLLM bench's strategies with time for progress.
func (r Ramp) Rate(t time.Duration) float64 {
	s := r.clampS(t)
	if r.Kind == RampExponential {
		return r.Start * math.Exp(r.growth()*s)
	}
	return r.Start + (r.End-r.Start)*s/r.Over.Seconds()
}

// cumulative is Λ(s), the expected sends over the first s seconds of the ramp (s in [0, Over]).
func (r Ramp) cumulative(s float64) float64 {
	if r.Kind == RampExponential {
		if k := r.growth(); k != 0 {
			return r.Start * math.Expm1(k*s) / k
		}
		return r.Start * s
	}
	return r.Start*s + (r.End-r.Start)*s*s/(2*r.Over.Seconds())
}

// inverse is Λ⁻¹(y) in seconds of ramp time: the time by which y sends are expected. It may
// exceed Over when y is more than the whole ramp expects; the caller ends the ramp there.
func (r Ramp) inverse(y float64) float64 {
	if r.Kind == RampExponential {
		k := r.growth()
		if k == 0 {
			return y / r.Start
		}
		arg := k * y / r.Start
		if arg <= -1 { // a ramp down never expects that many
			return math.Inf(1)
		}
		return math.Log1p(arg) / k
	}
	// Λ(s) = a·s + c·s² with c = (b−a)/(2·over); the root in the form that does not cancel.
	a, c := r.Start, (r.End-r.Start)/(2*r.Over.Seconds())
	disc := a*a + 4*c*y
	if disc < 0 {
		return math.Inf(1)
	}
	return 2 * y / (a + math.Sqrt(disc))
}

// Expected is the integral of the rate over [from, to) of ramp time (held to [0, Over]): the
// sends the ramp expects there.
func (r Ramp) Expected(from, to time.Duration) float64 {
	return r.cumulative(r.clampS(to)) - r.cumulative(r.clampS(from))
}

// rampArrivals draws a ramp's sends by time rescaling: unit-rate increments of the cumulative
// intensity, mapped back through its inverse, give exactly the inhomogeneous process, with no
// thinning and no drift (every offset is computed from the running intensity, not from the last
// offset plus a gap).
type rampArrivals struct {
	rng        *rand.Rand
	r          Ramp
	warmup     float64 // s
	arrival    Arrival
	burstiness float64
	lambda     float64 // cumulative intensity of the next send
	done       bool
}

// newRampArrivals schedules warmup at the ramp's start rate, then the ramp over
// [warmup, warmup+Over); the first send is at 0, as in Schedule. Increments are Exp(1) for
// poisson, Gamma(burstiness)/burstiness for gamma (mean 1, vLLM bench's shape) and 1 for
// constant; arrival and burstiness are those NewSchedule accepts.
func newRampArrivals(seed uint64, key string, r Ramp, warmup time.Duration, arrival Arrival, burstiness float64) arrivals {
	if arrival == "" {
		arrival = ArrivalPoisson
	}
	return &rampArrivals{rng: NewRand(seed, key), r: r, warmup: max(warmup, 0).Seconds(), arrival: arrival, burstiness: burstiness}
}

func (a *rampArrivals) next() (time.Duration, bool) {
	if a.done {
		return 0, false
	}
	at, ok := a.offset(a.lambda)
	if !ok {
		a.done = true
		return 0, false
	}
	a.lambda += a.increment()
	return at, true
}

// offset is Λ⁻¹(y) over the whole schedule, warmup included, in seconds from its origin.
func (a *rampArrivals) offset(y float64) (time.Duration, bool) {
	inWarmup := a.r.Start * a.warmup
	if y < inWarmup {
		return rampDur(y / a.r.Start), true
	}
	tau := a.r.inverse(y - inWarmup)
	if !(tau < a.r.Over.Seconds()) {
		return 0, false
	}
	return rampDur(a.warmup + tau), true
}

func (a *rampArrivals) increment() float64 {
	switch a.arrival {
	case ArrivalConstant:
		return 1
	case ArrivalGamma:
		return gammaSample(a.rng, a.burstiness) / a.burstiness
	default:
		return a.rng.ExpFloat64()
	}
}

// rampDur is s seconds as a Duration, truncated as Schedule truncates.
func rampDur(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
