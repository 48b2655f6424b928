package sweep

import (
	"encoding/json"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// sliceAt is s seconds from the point's origin.
func sliceAt(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// sliceOK is a successful request intended at at, first token after ttft, last after e2el.
func sliceOK(at, ttft, e2el float64, tokens int) *RequestRecord {
	return &RequestRecord{Intended: sliceAt(at), Sent: sliceAt(at), First: sliceAt(at + ttft), Last: sliceAt(at + e2el),
		Done: sliceAt(at + e2el), OutputTokens: tokens, ChunkCount: tokens, UsageReported: true}
}

// Known records give known slice figures: counts by intended send time, throughputs by
// completion time (shifted by the slice's median latency), latencies of the successful requests.
func TestSliceCollectorKnownRecords(t *testing.T) {
	// rate 1 + 0.2·t over 10 s after a 2 s warmup, two slices: [2 s, 7 s) and [7 s, 12 s).
	r := Ramp{Kind: RampLinear, Start: 1, End: 3, Over: 10 * time.Second, Slices: 2}
	c := newSliceCollector(r, 2*time.Second)
	warm := sliceOK(1, 0.2, 1.5, 4) // done at 2.5 s: neither slice's sends
	warm.Warmup = true
	c.add(warm)
	c.add(sliceOK(2.5, 0.1, 1.0, 11)) // slice 0, done 3.5 s: TPOT 90 ms
	c.add(sliceOK(3.0, 0.3, 5.0, 1))  // slice 0, done 8 s (slice 1); one token: no TPOT
	c.add(&RequestRecord{Intended: sliceAt(4), Sent: sliceAt(4), Done: sliceAt(4.2), Err: "http_500"})
	c.add(&RequestRecord{Intended: sliceAt(5), Sent: sliceAt(5), Done: sliceAt(13), Incomplete: true, ChunkCount: 2})
	c.add(&RequestRecord{Intended: sliceAt(6), Sent: sliceAt(6), Done: sliceAt(6.5)}) // empty answer: failed
	c.add(sliceOK(8.0, 0.5, 2.5, 5))                                                  // slice 1, done 10.5 s: TPOT 500 ms
	c.add(sliceOK(12.0, 0.1, 0.2, 3))                                                 // past the ramp: ignored
	noUsage := sliceOK(9.0, 0.7, 1.0, 0)
	noUsage.ChunkCount, noUsage.UsageReported = 4, false // tokens from chunks: TPOT 100 ms
	c.add(noUsage)

	got := c.slices()
	if len(got) != 2 {
		t.Fatalf("%d slices, want 2", len(got))
	}
	s0, s1 := got[0], got[1]
	checks := []struct {
		what      string
		got, want float64
	}{
		{"0 start_s", float64(s0.StartS), 0}, {"0 end_s", float64(s0.EndS), 5},
		{"1 start_s", float64(s1.StartS), 5}, {"1 end_s", float64(s1.EndS), 10},
		// ∫(1 + 0.2t) over [0, 5) = 7.5 and over [5, 10) = 12.5.
		{"0 request_rate", float64(s0.RequestRate), 1.5}, {"1 request_rate", float64(s1.RequestRate), 2.5},
		{"0 sent", float64(s0.Sent), 5}, {"0 completed", float64(s0.Completed), 2}, {"0 failed", float64(s0.Failed), 2},
		{"1 sent", float64(s1.Sent), 2}, {"1 completed", float64(s1.Completed), 2}, {"1 failed", float64(s1.Failed), 0},
		{"0 delivered", float64(s0.Delivered), 0.4}, {"1 delivered", float64(s1.Delivered), 1},
		// Completions by Done, in the slice shifted by its median E2EL: slice 0's is 3 s, so
		// [5 s, 10 s) holds 3.0's (1 token); slice 1's is 1.75 s, so [8.75 s, 13.75 s) holds
		// 9.0's (4 from chunks, done 10 s), 8.0's (5) and the one past the ramp (3, done 12.2 s).
		{"0 request_throughput", float64(s0.RequestThroughput), 1.0 / 5}, {"0 output_throughput", float64(s0.OutputThroughput), 1.0 / 5},
		{"1 request_throughput", float64(s1.RequestThroughput), 3.0 / 5}, {"1 output_throughput", float64(s1.OutputThroughput), 12.0 / 5},
		{"0 mean_ttft_ms", float64(s0.MeanTTFTMs), 200}, {"0 median_ttft_ms", float64(s0.MedianTTFTMs), 200},
		{"0 p99_ttft_ms", float64(s0.P99TTFTMs), 100 + 200*0.99},
		{"0 mean_e2el_ms", float64(s0.MeanE2ELMs), 3000}, {"0 median_e2el_ms", float64(s0.MedianE2ELMs), 3000},
		{"0 p99_e2el_ms", float64(s0.P99E2ELMs), 1000 + 4000*0.99},
		{"0 mean_tpot_ms", float64(s0.MeanTPOTMs), 90}, {"0 median_tpot_ms", float64(s0.MedianTPOTMs), 90},
		{"1 mean_ttft_ms", float64(s1.MeanTTFTMs), 600}, {"1 p99_ttft_ms", float64(s1.P99TTFTMs), 500 + 200*0.99},
		{"1 mean_tpot_ms", float64(s1.MeanTPOTMs), 300}, {"1 median_tpot_ms", float64(s1.MedianTPOTMs), 300},
		{"1 median_e2el_ms", float64(s1.MedianE2ELMs), 1750},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > 1e-4 {
			t.Errorf("slice %s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

// A slice nothing was sent in has zero counts and null figures; its rate is still the ramp's.
func TestSliceCollectorEmptySliceIsNull(t *testing.T) {
	r := Ramp{Kind: RampExponential, Start: 1, End: 4, Over: 4 * time.Second, Slices: 2}
	c := newSliceCollector(r, 0)
	c.add(sliceOK(0.5, 0.1, 0.4, 3))
	got := c.slices()
	if got[1].Sent != 0 || got[1].Completed != 0 || got[1].RequestThroughput != 0 {
		t.Errorf("empty slice: %+v", got[1])
	}
	for name, v := range map[string]float64{"median_ttft_ms": float64(got[1].MedianTTFTMs),
		"mean_tpot_ms": float64(got[1].MeanTPOTMs), "delivered": float64(got[1].Delivered)} {
		if !math.IsNaN(v) {
			t.Errorf("empty slice %s = %v, want NaN", name, v)
		}
	}
	// ∫ 2^(t/2) over [2, 4) is (4 − 2)·2/ln 2, over 2 s.
	if want := 2 / math.Ln2; math.Abs(float64(got[1].RequestRate)-want) > 1e-9 {
		t.Errorf("request_rate %v, want %v", got[1].RequestRate, want)
	}
	data, err := json.Marshal(got[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{`"median_ttft_ms":null`, `"delivered":null`, `"sent":0`} {
		if !strings.Contains(string(data), f) {
			t.Errorf("JSON %s lacks %s", data, f)
		}
	}
}

// Requests finishing on many goroutines are all counted.
func TestSliceCollectorConcurrentAdd(t *testing.T) {
	r := Ramp{Kind: RampLinear, Start: 10, End: 10, Over: 10 * time.Second, Slices: 5}
	c := newSliceCollector(r, time.Second)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				c.add(sliceOK(1+float64(g*100+i)/80.0, 0.01, 0.02, 2))
			}
		})
	}
	wg.Wait()
	var sent, done int
	for _, s := range c.slices() {
		sent += s.Sent
		done += s.Completed
		if s.Sent != 160 {
			t.Errorf("slice at %v s: %d sent, want 160", s.StartS, s.Sent)
		}
	}
	if sent != 800 || done != 800 {
		t.Errorf("sent %d, completed %d, want 800 each", sent, done)
	}
}
