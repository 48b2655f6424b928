package consistency

import (
	"math"
	"strings"
	"testing"

	"starlab/builtins/sweep/pointschema"
)

var inf = math.Inf(1)

// seed004 is seed 004 §1.2 (Gemma-3-12B 4-bit on an RTX 3090, closed loop at each concurrency),
// as builtins/analysis/fixtures_test.go holds it, with its per_request_tok_s column given as the
// output_throughput it was published as.
func seed004() []Fields {
	rows := []struct{ c, ttft, e2el, tput float64 }{
		{1, 84.0, 1818, 55.6}, {2, 106.4, 7089, 14.2}, {4, 140.9, 7192, 14.0}, {8, 181.8, 7360, 13.7},
		{16, 227.9, 7633, 13.2}, {32, 352.6, 8106, 12.5}, {48, 375.0, 9926, 10.2}, {64, 439.7, 10459, 9.7},
	}
	out := make([]Fields, len(rows))
	for i, r := range rows {
		out[i] = Map{"request_rate": inf, "max_concurrency": r.c, "completed": 100, "failed": 0,
			"mean_ttft_ms": r.ttft, "mean_e2el_ms": r.e2el, "output_throughput": r.tput}
	}
	return out
}

// closedLoopTable is what a server with 8 batch slots, 100 tokens per request and 1.8 s per
// request alone gives: throughput grows to the plateau, then latency grows with the queue;
// X × E2EL is the concurrency throughout.
func closedLoopTable() []Fields {
	var out []Fields
	for _, n := range []float64{1, 2, 4, 8, 16, 32, 64} {
		e2el := 1.8 * math.Max(1, n/8) * (1 + 0.05*math.Log2(n)) // s
		req := n / e2el
		out = append(out, Map{"request_rate": inf, "max_concurrency": n, "completed": 500, "mean_e2el_ms": 1000 * e2el,
			"request_throughput": req, "output_throughput": 100 * req, "total_output_tokens": 50000, "duration": 500 / req})
	}
	return out
}

func TestTable(t *testing.T) {
	openRow := Map{"request_rate": 4, "max_concurrency": 0, "mean_e2el_ms": 900, "output_throughput": 400}
	tests := []struct {
		name    string
		rows    []Fields
		checked []bool // rows the check covers; nil: the check does not apply
		ok      bool
		detail  string
	}{
		{"seed 004", seed004(), []bool{true, true, true, true, true, true, true, true}, false,
			"output_throughput falls from 55.6 to 9.7 tok/s while concurrency grows 64x and latency only 5.8x: Little's law says it is per-request throughput, not the server's"},
		{"a server's closed loop", closedLoopTable(), []bool{true, true, true, true, true, true, true}, true,
			"tokens per request) ranges"},
		{"requests column", []Fields{
			Map{"request_rate": inf, "max_concurrency": 1, "mean_e2el_ms": 1000, "request_throughput": 1},
			Map{"request_rate": inf, "max_concurrency": 16, "mean_e2el_ms": 2000, "request_throughput": 0.5},
		}, []bool{true, true}, false, "request_throughput falls from 1 to 0.5 req/s while concurrency grows 16x and latency only 2.0x"},
		{"open-loop rows are not covered", append(seed004()[:3:3], openRow), []bool{true, true, true, false}, false, "grows 4.0x"},
		{"one closed-loop row", []Fields{seed004()[0], openRow}, nil, true, ""},
		{"one concurrency", []Fields{seed004()[1], seed004()[1]}, nil, true, ""},
		{"no latency", []Fields{Map{"request_rate": inf, "max_concurrency": 1, "output_throughput": 5},
			Map{"request_rate": inf, "max_concurrency": 8, "output_throughput": 5}}, nil, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Table(tc.rows)
			if tc.checked == nil {
				if got != nil {
					t.Fatalf("got %+v, want nil", got)
				}
				return
			}
			if len(got) != len(tc.rows) {
				t.Fatalf("%d checks for %d rows", len(got), len(tc.rows))
			}
			for i, c := range got {
				if !tc.checked[i] {
					if c.Name != "" {
						t.Errorf("row %d: %+v, want no check", i, c)
					}
					continue
				}
				if c.Name != PerRequestThroughput || c.OK != tc.ok || !strings.Contains(c.Detail, tc.detail) {
					t.Errorf("row %d: %+v, want ok=%v with %q", i, c, tc.ok, tc.detail)
				}
			}
		})
	}
}

func TestPoint(t *testing.T) {
	type want struct {
		ok     bool
		detail string
	}
	tests := []struct {
		name string
		row  Map
		want map[string]want // check name → outcome; checks not listed must not run
	}{
		{"closed loop, consistent", Map{"request_rate": inf, "max_concurrency": 8, "completed": 400,
			"request_throughput": 4, "mean_e2el_ms": 2000, "output_throughput": 400, "total_output_tokens": 40000, "duration": 100},
			map[string]want{LittlesLaw: {true, "= 8 requests in flight; a closed loop of 8 keeps"}, Tokens: {true, "400 tok/s"}}},
		{"closed loop, throughput per request", Map{"request_rate": inf, "max_concurrency": 64, "completed": 6400,
			"request_throughput": 0.1, "mean_e2el_ms": 10000},
			map[string]want{LittlesLaw: {false, "cannot both be the server's"}}},
		{"closed loop, more in flight than workers", Map{"request_rate": inf, "max_concurrency": 4,
			"request_throughput": 4, "mean_e2el_ms": 2000},
			map[string]want{LittlesLaw: {false, "= 8 requests in flight"}}},
		{"closed loop, one round drains", Map{"request_rate": inf, "max_concurrency": 32, "completed": 32,
			"request_throughput": 10, "mean_e2el_ms": 1600},
			map[string]want{LittlesLaw: {true, "= 16 requests in flight"}}},
		{"closed loop, converted from tokens", Map{"request_rate": inf, "max_concurrency": 8, "completed": 100,
			"total_output_tokens": 12800, "output_throughput": 512, "mean_e2el_ms": 2000},
			map[string]want{LittlesLaw: {true, "output_throughput / tokens per request × mean_e2el_ms = 8 "}}},
		{"open loop under the cap", Map{"request_rate": 10, "max_concurrency": 16, "request_throughput": 9.8,
			"mean_e2el_ms": 1000, "client.achieved_send_rate": 10.1, "client.send_lag_p99_ms": 0},
			map[string]want{LittlesLaw: {true, "max_concurrency 16"}, OfferedLoad: {true, "client.achieved_send_rate 10.1"}}},
		{"open loop over the cap", Map{"request_rate": 10, "max_concurrency": 4, "request_throughput": 9.8,
			"mean_e2el_ms": 1000, "client.send_lag_p99_ms": 0},
			map[string]want{LittlesLaw: {false, "more in flight than the cap"}, OfferedLoad: {true, "request_rate 10"}}},
		{"open loop queued at the client", Map{"request_rate": 10, "max_concurrency": 4, "request_throughput": 5,
			"mean_e2el_ms": 8000, "client.send_lag_p99_ms": 6000},
			map[string]want{OfferedLoad: {true, ""}}},
		{"open loop, completes more than sent", Map{"request_rate": 10, "request_throughput": 20, "duration": 60,
			"client.achieved_send_rate": 10},
			map[string]want{OfferedLoad: {false, "more completed than was sent"}}},
		{"open loop, noise of a few requests", Map{"request_rate": 1, "request_throughput": 1.2, "duration": 20,
			"client.achieved_send_rate": 1},
			map[string]want{OfferedLoad: {true, ""}}},
		{"tokens disagree", Map{"request_rate": 5, "request_throughput": 5, "completed": 300, "total_output_tokens": 30000,
			"output_throughput": 250, "duration": 60},
			map[string]want{Tokens: {false, "the token and request counts disagree"}, OfferedLoad: {true, ""}}},
		{"tokens per output_len", Map{"completed": 100, "total_output_tokens": 6400, "output_len": 128},
			map[string]want{Tokens: {false, "total_output_tokens 6400 vs completed × output_len = 12800"}}},
		{"nothing to check", Map{"request_rate": 5, "mean_ttft_ms": 40}, map[string]want{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Point(tc.row)
			seen := map[string]bool{}
			for _, c := range got {
				seen[c.Name] = true
				w, ok := tc.want[c.Name]
				if !ok {
					t.Errorf("unexpected check %+v", c)
					continue
				}
				if c.OK != w.ok || !strings.Contains(c.Detail, w.detail) {
					t.Errorf("%s: %+v, want ok=%v with %q", c.Name, c, w.ok, w.detail)
				}
			}
			for name := range tc.want {
				if !seen[name] {
					t.Errorf("%s did not run; got %+v", name, got)
				}
			}
		})
	}
}

// The checks read point fields by their schema names, so a renamed field fails here instead of
// silently switching a check off.
func TestFieldNamesAreInTheSchema(t *testing.T) {
	fields := pointschema.Fields()
	for _, name := range []string{fRequestRate, fMaxConcurrency, fCompleted, fDuration, fTotalOutput, fRequestThru,
		fOutputThru, fMeanE2EL, fAchievedRate, fSendLagP99} {
		if _, ok := pointschema.Lookup(fields, name); !ok {
			t.Errorf("%s is not a point field", name)
		}
		p := &pointschema.Point{RequestRate: 3, MaxConcurrency: 2, Completed: 4, Duration: 5, TotalOutputTokens: 6,
			RequestThroughput: 7, OutputThroughput: 8, MeanE2ELMs: 9,
			Client: pointschema.ClientStats{AchievedSendRate: 10, SendLagP99Ms: 11}}
		if _, ok := OfPoint(p).Field(name); !ok {
			t.Errorf("OfPoint does not give %s", name)
		}
	}
	p := &pointschema.Point{RequestThroughput: pointschema.Float(math.NaN())}
	if _, ok := OfPoint(p).Field(fRequestThru); ok {
		t.Error("a null figure counts as present")
	}
	if _, ok := OfPoint(p).Field(fMaxConcurrency); ok {
		t.Error("max_concurrency 0 (unbounded) counts as a cap")
	}
}
