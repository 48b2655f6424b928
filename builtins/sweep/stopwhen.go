package sweep

import (
	"fmt"
	"time"
)

// StopWhen ends an open-loop point early once it is clearly saturated, so an overloaded point
// costs seconds instead of its full duration.
type StopWhen struct {
	// Fraction: saturated when completions over each of the last two Windows are below Fraction
	// × sends over the same window (default 0.8), with at least 20 sends in each.
	Fraction float64
	// Window is the look-back (default 5s); the check starts after warmup + 2 windows.
	Window time.Duration
	// TTFTGrowth: the mean TTFT of the last window must exceed the previous window's by this factor
	// (default 1.2), or nothing at all completed in the last window.
	TTFTGrowth float64
}

func (s StopWhen) withDefaults() StopWhen {
	if s.Fraction <= 0 {
		s.Fraction = 0.8
	}
	if s.Window <= 0 {
		s.Window = 5 * time.Second
	}
	if s.TTFTGrowth <= 0 {
		s.TTFTGrowth = 1.2
	}
	return s
}

type secBucket struct {
	sent, done int
	ttftSum    float64
}

// saturation counts sends and completions per second of the point (origin-relative time).
type saturation struct {
	spec    StopWhen
	warmup  time.Duration
	buckets []secBucket
}

func newSaturation(spec StopWhen, warmup time.Duration) *saturation {
	return &saturation{spec: spec.withDefaults(), warmup: warmup}
}

func (s *saturation) bucket(at time.Duration) *secBucket {
	i := max(int(at/time.Second), 0)
	for len(s.buckets) <= i {
		s.buckets = append(s.buckets, secBucket{})
	}
	return &s.buckets[i]
}

func (s *saturation) sent(at time.Duration) { s.bucket(at).sent++ }

func (s *saturation) done(at, ttft time.Duration) {
	b := s.bucket(at)
	b.done++
	b.ttftSum += ms(ttft)
}

// minStopSends is the least number of sends in a window before it can judge saturation: with
// fewer, Poisson noise alone makes completions fall short of sends.
const minStopSends = 20

// check reports whether the point is saturated at now, with the reason: in each of the last two
// windows, completions fell below Fraction of sends (the backlog grows, persistently), and mean
// TTFT grew from the first of them to the second (or nothing completed at all).
func (s *saturation) check(now time.Duration) (bool, string) {
	w := int(s.spec.Window / time.Second)
	w = max(w, 1)
	end := int(now / time.Second) // buckets [end-w, end) are complete
	if time.Duration(end-2*w)*time.Second < s.warmup || end > len(s.buckets) {
		return false, ""
	}
	sum := func(from, to int) (sent, done int, ttft float64) {
		for i := from; i < to; i++ {
			b := s.buckets[i]
			sent, done, ttft = sent+b.sent, done+b.done, ttft+b.ttftSum
		}
		return
	}
	sent, done, ttft := sum(end-w, end)
	psent, pdone, pttft := sum(end-2*w, end-w)
	short := func(sent, done int) bool {
		return sent >= minStopSends && float64(done) < s.spec.Fraction*float64(sent)
	}
	if !short(sent, done) || !short(psent, pdone) {
		return false, ""
	}
	if done == 0 && pdone == 0 {
		return true, fmt.Sprintf("saturated: 0 of %d requests completed in the last %ds", sent+psent, 2*w)
	}
	if done == 0 || pdone == 0 {
		return false, ""
	}
	cur, prev := ttft/float64(done), pttft/float64(pdone)
	if cur <= s.spec.TTFTGrowth*prev {
		return false, ""
	}
	return true, fmt.Sprintf("saturated: completion rate %.2f/s < %.0f%% of offered %.2f/s for %ds and mean TTFT grew %.0f → %.0f ms",
		float64(done)/float64(w), 100*s.spec.Fraction, float64(sent)/float64(w), 2*w, prev, cur)
}
