package sweep

import (
	"math"
	"sync"
	"time"

	"starlab/builtins/sweep/pointschema"
)

// sliceCollector cuts a ramp's window into equal time slices and keeps, per slice, the counts
// and the latency samples of the requests intended in it (three floats per successful request)
// and the completions that fell in it. add is safe from many goroutines: HTTP runs finish
// requests concurrently.
type sliceCollector struct {
	r      Ramp
	warmup time.Duration
	length float64 // one slice, in nanoseconds

	mu    sync.Mutex
	acc   []sliceAcc
	dones []doneAt // every successful completion, for the slices' throughputs
}

// sliceAcc is one slice's running figures.
type sliceAcc struct {
	sent, completed, failed int
	ttft, tpot, e2el        []float64
}

// doneAt is a successful completion: when, and its output tokens.
type doneAt struct {
	at     time.Duration
	tokens int
}

func newSliceCollector(r Ramp, warmup time.Duration) *sliceCollector {
	n := max(r.Slices, 1)
	return &sliceCollector{r: r, warmup: warmup, length: float64(r.Over) / float64(n), acc: make([]sliceAcc, n)}
}

// slice is the index of the slice holding offset t, or -1 outside the ramp's window.
func (s *sliceCollector) slice(t time.Duration) int {
	if t < s.warmup {
		return -1
	}
	k := int(float64(t-s.warmup) / s.length)
	if k >= len(s.acc) {
		return -1
	}
	return k
}

// add takes one finished request. Warmup requests (Warmup set, or intended before the window)
// are not the slices' sends, but a warmup request that completes inside a slice counts in its
// throughput, as the whole point's throughput counts every completion in the window: otherwise
// the first slice would read low by the requests in flight when the window opened. Requests
// are counted as the Aggregator counts them: incomplete ones as sent only, failed ones (an error
// or an empty answer) as sent and failed.
func (s *sliceCollector) add(rec *RequestRecord) {
	out := rec.OutputTokens
	if !rec.UsageReported { // as RequestRecord.finish does, whichever sees the record first
		out = rec.ChunkCount
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec.OK() {
		s.dones = append(s.dones, doneAt{rec.Done, out})
	}
	if rec.Warmup || rec.Intended < s.warmup {
		return
	}
	k := s.slice(rec.Intended)
	if k < 0 {
		return
	}
	a := &s.acc[k]
	a.sent++
	switch {
	case rec.OK():
		a.completed++
		ttft, e2el := ms(rec.TTFT()), ms(rec.E2EL())
		a.ttft = append(a.ttft, ttft)
		a.e2el = append(a.e2el, e2el)
		if out > 1 {
			a.tpot = append(a.tpot, (e2el-ttft)/float64(out-1))
		}
	case !rec.Incomplete:
		a.failed++
	}
}

// slices reports every slice: its target rate (the ramp's mean over it), counts by intended send
// time, throughputs by completion time, and latency figures with the Aggregator's percentile.
// A slice without samples has NaN (null) figures. Throughputs count the completions in the slice
// shifted by its median E2EL: on a ramp a request completes about one latency after it is sent,
// so an unshifted count trails the offered rate by the ramp's slope times the latency and would
// read a server keeping up as saturated. Completions after the window (the drain) count for the
// last slices; warmup requests completing in a slice count too.
func (s *sliceCollector) slices() []pointschema.Slice {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]pointschema.Slice, len(s.acc))
	for k := range s.acc {
		a := &s.acc[k]
		from, to := time.Duration(float64(k)*s.length), time.Duration(float64(k+1)*s.length)
		if k == len(s.acc)-1 {
			to = s.r.Over
		}
		secs := (to - from).Seconds()
		shift := time.Duration(0)
		if med := percentile(sortedCopy(a.e2el), 50); med > 0 {
			shift = time.Duration(med * float64(time.Millisecond))
		}
		doneOK, doneTokens := 0, 0
		lo, hi := s.warmup+from+shift, s.warmup+to+shift
		for _, d := range s.dones {
			if d.at >= lo && d.at < hi {
				doneOK++
				doneTokens += d.tokens
			}
		}
		sl := pointschema.Slice{
			StartS:            Float(from.Seconds()),
			EndS:              Float(to.Seconds()),
			RequestRate:       Float(s.r.Expected(from, to) / secs),
			Sent:              a.sent,
			Completed:         a.completed,
			Failed:            a.failed,
			RequestThroughput: Float(float64(doneOK) / secs),
			OutputThroughput:  Float(float64(doneTokens) / secs),
			Delivered:         Float(math.NaN()),
		}
		if a.sent > 0 {
			sl.Delivered = Float(float64(a.completed) / float64(a.sent))
		}
		ttft, tpot, e2el := sortedCopy(a.ttft), sortedCopy(a.tpot), sortedCopy(a.e2el)
		sl.MeanTTFTMs, sl.MedianTTFTMs, sl.P99TTFTMs = sliceMean(ttft), Float(percentile(ttft, 50)), Float(percentile(ttft, 99))
		sl.MeanTPOTMs, sl.MedianTPOTMs = sliceMean(tpot), Float(percentile(tpot, 50))
		sl.MeanE2ELMs, sl.MedianE2ELMs, sl.P99E2ELMs = sliceMean(e2el), Float(percentile(e2el, 50)), Float(percentile(e2el, 99))
		out[k] = sl
	}
	return out
}

// sliceMean is the samples' mean, NaN without samples.
func sliceMean(v []float64) Float {
	m, _ := meanStd(v)
	return Float(m)
}
