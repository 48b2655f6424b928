package sweep

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"
)

// Arrival names the inter-arrival distribution of an open-loop point.
type Arrival string

const (
	ArrivalPoisson  Arrival = "poisson"
	ArrivalGamma    Arrival = "gamma"
	ArrivalConstant Arrival = "constant"
)

// NewRand returns the generator for one random stream. It depends only on the run seed and the
// step key, never on the clock, so a plan replays identically.
func NewRand(seed uint64, key string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(key))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// Schedule yields the absolute send offsets of an open-loop point. Offsets are cumulative from a
// fixed origin, so a late send never shifts the ones after it (k6's arrival-rate semantics).
type Schedule struct {
	rng        *rand.Rand
	rate       float64
	arrival    Arrival
	burstiness float64
	nextAt     float64 // seconds
}

// NewSchedule builds the schedule for rate requests/s. Gamma gaps have shape = burstiness and
// mean 1/rate, as vLLM bench does (burstiness 1 is Poisson; < 1 burstier, > 1 more regular).
// An infinite rate sends everything at offset 0.
func NewSchedule(seed uint64, key string, rate float64, arrival Arrival, burstiness float64) (*Schedule, error) {
	if !(rate > 0) {
		return nil, fmt.Errorf("rate must be > 0, got %v", rate)
	}
	switch arrival {
	case "":
		arrival = ArrivalPoisson
	case ArrivalPoisson, ArrivalConstant:
	case ArrivalGamma:
		if !(burstiness > 0) {
			return nil, fmt.Errorf("burstiness must be > 0, got %v", burstiness)
		}
	default:
		return nil, fmt.Errorf("arrival: got %q, want poisson, gamma or constant", arrival)
	}
	return &Schedule{rng: NewRand(seed, key), rate: rate, arrival: arrival, burstiness: burstiness}, nil
}

// Next returns the offset of the next send. The first send is at 0.
func (s *Schedule) Next() time.Duration {
	at := s.nextAt
	if !math.IsInf(s.rate, 1) {
		s.nextAt += s.gap()
	}
	return time.Duration(at * float64(time.Second))
}

func (s *Schedule) gap() float64 {
	mean := 1 / s.rate
	switch s.arrival {
	case ArrivalConstant:
		return mean
	case ArrivalGamma:
		return gammaSample(s.rng, s.burstiness) * mean / s.burstiness
	default:
		return s.rng.ExpFloat64() * mean
	}
}

// gammaSample draws Gamma(shape, 1) with Marsaglia–Tsang (boosted for shape < 1).
func gammaSample(r *rand.Rand, shape float64) float64 {
	if shape < 1 {
		u := r.Float64()
		return gammaSample(r, shape+1) * math.Pow(u, 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}
