package consistency

import (
	"fmt"
	"math"

	"starlab/builtins/sweep/pointschema"
)

// Thresholds of the per-request throughput check.
const (
	// flatProduct: throughput × latency counts as constant across rows when it varies by at most
	// this factor.
	flatProduct = 1.5
	// perRequestSpread: throughput × latency / concurrency, which a closed loop keeps constant,
	// counts as broken when it varies by more than this factor.
	perRequestSpread = 4.0
)

// Table runs the checks that need several rows. Today that is per_request_throughput, on the
// closed-loop rows (request_rate +Inf) with max_concurrency, mean_e2el_ms and a throughput column
// (output_throughput, else request_throughput). In a closed loop of N workers, Little's law makes
// X × E2EL / N the mean output of one request (tokens, or 1 request) at every N, while X × E2EL,
// the requests in flight, grows with N. A column that is one stream's throughput has it the other
// way round: X × E2EL constant (one request's output) and X × E2EL / N falling as 1/N. When X × E2EL
// stays within 1.5x while X × E2EL / N varies by more than 4x, every row is flagged.
//
// The result is aligned with rows: checks[i] is rows[i]'s, and a zero Check (empty Name) marks a
// row the check does not cover (open loop, missing inputs). It is nil when fewer than two rows
// qualify or they share one concurrency.
func Table(rows []Fields) []pointschema.Check {
	type row struct {
		i             int
		n, eff, x, e2 float64
	}
	column, unit := fOutputThru, "tok/s"
	pick := func(col string) []row {
		var out []row
		for i, f := range rows {
			if !closedLoop(f) {
				continue
			}
			n, ok1 := positive(f, fMaxConcurrency)
			e2, ok2 := positive(f, fMeanE2EL)
			x, ok3 := positive(f, col)
			if !ok1 || !ok2 || !ok3 {
				continue
			}
			eff := n
			if done, ok := positive(f, fCompleted); ok {
				eff = math.Min(n, done) // fewer requests than workers: only they were in flight
			}
			out = append(out, row{i, n, eff, x, e2 / 1000})
		}
		return out
	}
	qual := pick(column)
	if len(qual) < 2 {
		column, unit = fRequestThru, "req/s"
		qual = pick(column)
	}
	if len(qual) < 2 {
		return nil
	}
	lowest, highest := qual[0], qual[0]
	prodLo, prodHi := math.Inf(1), math.Inf(-1)
	perLo, perHi := math.Inf(1), math.Inf(-1)
	for _, r := range qual {
		if r.n < lowest.n {
			lowest = r
		}
		if r.n > highest.n {
			highest = r
		}
		prod, per := r.x*r.e2, r.x*r.e2/r.eff
		prodLo, prodHi = math.Min(prodLo, prod), math.Max(prodHi, prod)
		perLo, perHi = math.Min(perLo, per), math.Max(perHi, per)
	}
	if lowest.n == highest.n {
		return nil
	}
	what := "tokens"
	if column == fRequestThru {
		what = "requests"
	}
	c := pointschema.Check{Name: PerRequestThroughput, OK: true,
		Detail: fmt.Sprintf("%s × mean_e2el / concurrency (%s per request) ranges %.3g–%.3g over %d closed-loop rows (concurrency %g–%g)",
			column, what, perLo, perHi, len(qual), lowest.n, highest.n)}
	if prodHi <= flatProduct*prodLo && perHi > perRequestSpread*perLo {
		verb := "falls"
		if highest.x >= lowest.x {
			verb = "goes"
		}
		c.OK = false
		c.Detail = fmt.Sprintf("%s %s from %.3g to %.3g %s while concurrency grows %sx and latency only %sx: Little's law says it is per-request throughput, not the server's",
			column, verb, lowest.x, highest.x, unit, factor(highest.n/lowest.n), factor(highest.e2/lowest.e2))
	}
	out := make([]pointschema.Check, len(rows))
	for _, r := range qual {
		out[r.i] = c
	}
	return out
}

// factor formats a ratio the way a reader says it: 64x, 5.8x.
func factor(v float64) string {
	if math.Abs(v) >= 10 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}
