package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"starlab/builtins/virtual"
)

// record is one request's timeline as a load generator would keep it.
type record struct {
	sent, first, last time.Duration
	chunks            int
	usage             virtual.Usage
	err               error
}

// point is a summary of one open-loop Poisson run.
type point struct {
	rate, throughput, meanTTFT, meanITL float64
	completed, failed                   int
	records                             []*record
}

// poisson drives srv open-loop at rate req/s for dur with in/out tokens (ignore_eos as given),
// then drains, and summarises requests sent within dur.
func poisson(srv virtual.Server, rate float64, dur time.Duration, in, out int, ignoreEOS bool, seed uint64) point {
	rng := rand.New(rand.NewPCG(seed, 1))
	p := point{rate: rate}
	var t time.Duration
	for {
		t += time.Duration(rng.ExpFloat64() / rate * 1e9)
		if t >= dur {
			break
		}
		rec := &record{sent: t}
		p.records = append(p.records, rec)
		srv.Submit(t, virtual.Request{PromptTokens: in, MaxTokens: out, IgnoreEOS: ignoreEOS}, virtual.Events{
			Chunk: func(at time.Duration, n int) {
				if rec.chunks == 0 {
					rec.first = at
				}
				rec.chunks += n
				rec.last = at
			},
			Done: func(at time.Duration, u virtual.Usage, err error) { rec.usage, rec.err = u, err },
		})
	}
	srv.RunUntil(dur)
	var ttft, itl float64
	var gaps int
	for _, r := range p.records {
		if r.err != nil {
			p.failed++
			continue
		}
		if r.last > dur || r.chunks == 0 {
			continue // incomplete within the window
		}
		p.completed++
		ttft += (r.first - r.sent).Seconds()
		if r.chunks > 1 {
			itl += (r.last - r.first).Seconds()
			gaps += r.chunks - 1
		}
	}
	p.throughput = float64(p.completed) / dur.Seconds()
	if p.completed > 0 {
		p.meanTTFT = ttft / float64(p.completed) * 1000
	}
	if gaps > 0 {
		p.meanITL = itl / float64(gaps) * 1000
	}
	return p
}

// timeline serialises records for byte-for-byte comparison.
func timeline(recs []*record) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "%d %d %d %d %d %d %v\n", r.sent, r.first, r.last, r.chunks, r.usage.PromptTokens, r.usage.CompletionTokens, r.err)
	}
	return b.String()
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return math.NaN()
	}
	return s[len(s)/2]
}

func itoa(n int64) string { return fmt.Sprint(n) }
