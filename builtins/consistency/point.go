package consistency

import (
	"math"

	"starlab/builtins/sweep/pointschema"
)

// OfPoint gives a measured point's fields to the checks. max_concurrency 0 (unbounded) is
// absent, as are NaN (null) figures.
func OfPoint(p *pointschema.Point) Fields { return point{p} }

type point struct{ p *pointschema.Point }

func (f point) Field(name string) (float64, bool) {
	p := f.p
	var v float64
	switch name {
	case fRequestRate:
		v = float64(p.RequestRate)
	case fMaxConcurrency:
		if p.MaxConcurrency <= 0 {
			return 0, false
		}
		v = float64(p.MaxConcurrency)
	case fCompleted:
		v = float64(p.Completed)
	case fDuration:
		v = float64(p.Duration)
	case fTotalOutput:
		v = float64(p.TotalOutputTokens)
	case fRequestThru:
		v = float64(p.RequestThroughput)
	case fOutputThru:
		v = float64(p.OutputThroughput)
	case fMeanE2EL:
		v = float64(p.MeanE2ELMs)
	case fAchievedRate:
		v = float64(p.Client.AchievedSendRate)
	case fSendLagP99:
		v = float64(p.Client.SendLagP99Ms)
	default:
		return 0, false
	}
	return v, !math.IsNaN(v)
}
