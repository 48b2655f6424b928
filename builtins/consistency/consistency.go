// Package consistency checks that a point's figures can be what they claim: Little's law ties
// throughput, latency and requests in flight together, tokens tie output throughput to request
// throughput, and a server cannot complete more than it was offered. A table that breaks them
// (seed 004's "throughput" that is one stream's tok/s, not the server's) is flagged instead of
// analysed as if it were right.
//
// The checks read fields by their point names (vLLM bench's, as pointschema defines them), so a
// measured point (OfPoint) and a row of a published table (Map) go through the same code. A check
// runs only when its inputs are present; it is kept when it passes (OK=true), so a report can say
// what was checked. The package is pure Go: no Starlark, no load generator, no analysis.
package consistency

import (
	"fmt"
	"math"
	"strings"

	"starlab/builtins/sweep/pointschema"
)

// Fields gives a point's numeric fields by name: "request_throughput", "mean_e2el_ms",
// "client.achieved_send_rate", ... false when the field is absent or unknown (NaN). request_rate
// is +Inf for a closed loop.
type Fields interface {
	Field(name string) (float64, bool)
}

// Map is Fields over a table row's numbers.
type Map map[string]float64

// Field returns the row's value; NaN counts as absent.
func (m Map) Field(name string) (float64, bool) {
	v, ok := m[name]
	return v, ok && !math.IsNaN(v)
}

// Names of the checks.
const (
	LittlesLaw           = "littles_law"
	Tokens               = "tokens"
	OfferedLoad          = "offered_load"
	PerRequestThroughput = "per_request_throughput"
)

// Field names the checks read. OutputLen is not a point field: a table may give the requested
// output length per request.
const (
	fRequestRate     = pointschema.RequestRate
	fMaxConcurrency  = pointschema.MaxConcurrency
	fCompleted       = pointschema.Completed
	fDuration        = "duration"
	fTotalOutput     = pointschema.TotalOutputTokens
	fRequestThru     = pointschema.RequestThroughput
	fOutputThru      = pointschema.OutputThroughput
	fMeanE2EL        = pointschema.MeanE2ELMs
	fAchievedRate    = pointschema.ClientAchievedSendRate
	fSendLagP99      = "client.send_lag_p99_ms"
	OutputLen        = "output_len"
	littleTolerance  = 0.15 // closed loop: concurrency vs throughput × latency
	capTolerance     = 0.10 // open loop: throughput × latency vs max_concurrency
	tokenTolerance   = 0.15 // output throughput vs requests × tokens per request
	offeredTolerance = 0.10 // throughput vs offered load
)

// Point runs the checks of one point, in a fixed order; each only when its inputs are present.
func Point(f Fields) []pointschema.Check {
	var out []pointschema.Check
	for _, check := range []func(Fields) (pointschema.Check, bool){littlesLaw, tokens, offeredLoad} {
		if c, ok := check(f); ok {
			out = append(out, c)
		}
	}
	return out
}

func get(f Fields, name string) (float64, bool) {
	v, ok := f.Field(name)
	return v, ok && !math.IsNaN(v)
}

// positive reads a field that must be > 0 and finite to be of use.
func positive(f Fields, name string) (float64, bool) {
	v, ok := get(f, name)
	return v, ok && v > 0 && !math.IsInf(v, 0)
}

// closedLoop reports a closed loop: request_rate is +Inf.
func closedLoop(f Fields) bool {
	r, ok := get(f, fRequestRate)
	return ok && math.IsInf(r, 1)
}

// tokensPerRequest is total_output_tokens / completed.
func tokensPerRequest(f Fields) (float64, bool) {
	tok, ok1 := positive(f, fTotalOutput)
	n, ok2 := positive(f, fCompleted)
	if !ok1 || !ok2 {
		return 0, false
	}
	return tok / n, true
}

// requestThroughput is request_throughput, or output_throughput converted with the tokens per
// request; the name says which.
func requestThroughput(f Fields) (x float64, how string, ok bool) {
	if x, ok := get(f, fRequestThru); ok && x >= 0 && !math.IsInf(x, 0) {
		return x, "request_throughput", true
	}
	out, ok1 := get(f, fOutputThru)
	per, ok2 := tokensPerRequest(f)
	if !ok1 || !ok2 || out < 0 || math.IsInf(out, 0) {
		return 0, "", false
	}
	return out / per, "output_throughput / tokens per request", true
}

// littlesLaw: the mean number of requests in flight is throughput × mean latency. A closed loop
// of N workers keeps N in flight (fewer while the last N requests drain, when the point ran
// only a few rounds); an open loop capped at max_concurrency cannot hold more than the cap.
// Latency is from the intended send, so in a closed loop (send = intended) it is the time a worker
// holds its request.
func littlesLaw(f Fields) (pointschema.Check, bool) {
	x, how, ok := requestThroughput(f)
	e2el, ok2 := positive(f, fMeanE2EL)
	n, ok3 := positive(f, fMaxConcurrency)
	if !ok || !ok2 || !ok3 {
		return pointschema.Check{}, false
	}
	inFlight := x * e2el / 1000
	c := pointschema.Check{Name: LittlesLaw, OK: true}
	if closedLoop(f) {
		eff := n
		drain := 1.0
		if done, ok := positive(f, fCompleted); ok {
			eff = math.Min(n, done)
			// The last eff requests finish with idle workers beside them: at most eff/done of
			// the work runs below full concurrency.
			drain = math.Max(0, 1-eff/done)
		}
		lo, hi := eff*drain/(1+littleTolerance), eff*(1+littleTolerance)
		c.Detail = fmt.Sprintf("%s × mean_e2el_ms = %.3g requests in flight; a closed loop of %g keeps %s in flight",
			how, inFlight, n, span(lo, hi))
		if inFlight < lo || inFlight > hi {
			c.OK = false
			c.Detail += ": the throughput and the latency cannot both be the server's (is the throughput per request, or the latency from another clock?)"
		}
		return c, true
	}
	// Open loop: requests that waited for a slot carry that wait in their latency (measured from
	// the intended send) while not in flight at the server, so the cap bounds nothing then.
	if lag, ok := get(f, fSendLagP99); ok && lag > 0.1*e2el {
		return pointschema.Check{}, false
	}
	hi := n * (1 + capTolerance)
	c.Detail = fmt.Sprintf("%s × mean_e2el_ms = %.3g requests in flight, max_concurrency %g", how, inFlight, n)
	if inFlight > hi {
		c.OK = false
		c.Detail += ": more in flight than the cap allows; the throughput or the latency is not what it claims"
	}
	return c, true
}

// tokens: the output tokens generated per second are the requests completed per second times
// the tokens per request. output_throughput counts tokens when they streamed and
// request_throughput requests when they finished, so short windows differ by the requests
// straddling the window's edges: the tolerance is 15%, wider for few requests. With output_len
// (the tokens each request asked for), total_output_tokens must also be completed × output_len.
func tokens(f Fields) (pointschema.Check, bool) {
	per, okPer := tokensPerRequest(f)
	x, okX := get(f, fRequestThru)
	out, okOut := get(f, fOutputThru)
	want, okLen := positive(f, OutputLen)
	c := pointschema.Check{Name: Tokens, OK: true}
	var parts []string
	ran := false
	if okPer && okX && okOut && x > 0 && !math.IsInf(x, 0) && !math.IsInf(out, 0) {
		ran = true
		tol := tokenTolerance
		if d, ok := positive(f, fDuration); ok {
			tol = math.Max(tol, 2/math.Sqrt(math.Max(1, x*d)))
		}
		expect := x * per
		parts = append(parts, fmt.Sprintf("output_throughput %.4g tok/s vs request_throughput × tokens per request = %.4g tok/s (tolerance %.0f%%)",
			out, expect, 100*tol))
		if math.Abs(out-expect) > tol*expect {
			c.OK = false
			parts[len(parts)-1] += ": the token and request counts disagree"
		}
	}
	if okLen {
		tok, ok1 := get(f, fTotalOutput)
		n, ok2 := get(f, fCompleted)
		if ok1 && ok2 && n > 0 {
			ran = true
			expect := n * want
			parts = append(parts, fmt.Sprintf("total_output_tokens %.0f vs completed × output_len = %.0f", tok, expect))
			if math.Abs(tok-expect) > tokenTolerance*expect {
				c.OK = false
				parts[len(parts)-1] += ": requests did not produce the tokens they asked for"
			}
		}
	}
	if !ran {
		return pointschema.Check{}, false
	}
	c.Detail = strings.Join(parts, "; ")
	return c, true
}

// offeredLoad: an open loop cannot complete requests faster than it sent them, beyond the
// backlog left from warmup and Poisson noise at the edges (10%, and two standard deviations of
// the sends' count when the window is known).
func offeredLoad(f Fields) (pointschema.Check, bool) {
	if closedLoop(f) {
		return pointschema.Check{}, false
	}
	x, okX := get(f, fRequestThru)
	offered, ok := positive(f, fAchievedRate)
	what := "client.achieved_send_rate"
	if !ok {
		offered, ok = positive(f, fRequestRate)
		what = "request_rate"
	}
	if !okX || !ok || math.IsInf(x, 0) {
		return pointschema.Check{}, false
	}
	c := pointschema.Check{Name: OfferedLoad, OK: true,
		Detail: fmt.Sprintf("request_throughput %.4g req/s vs %s %.4g req/s", x, what, offered)}
	over := x > offered*(1+offeredTolerance)
	if d, ok := positive(f, fDuration); ok && over {
		n := offered * d
		over = (x-offered)*d > 2*math.Sqrt(n)+2
	}
	if over {
		c.OK = false
		c.Detail += ": more completed than was sent; the throughput is not the requests this load produced"
	}
	return c, true
}

// span formats an expected range.
func span(lo, hi float64) string {
	return fmt.Sprintf("%.3g–%.3g", lo, hi)
}
