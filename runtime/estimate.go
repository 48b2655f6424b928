package runtime

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// A --virtual run takes seconds; the same plan on real servers takes the time its points send
// load, wait for their last answers and start servers. Builtins note that time as they simulate
// it, so a user learns whether a plan is an hour or a week before paying for either.

// realTime accumulates the real-server time of a --virtual run, by kind of work.
type realTime struct {
	parts map[string]*realPart
}

type realPart struct {
	count int
	d     time.Duration
}

// NoteRealTime adds d of kind ("load points", "server starts") to the estimate of how long the
// run would take on real servers. Only --virtual runs keep the estimate.
func (r *Run) NoteRealTime(kind string, d time.Duration) {
	if !r.Virtual || d < 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.real.parts == nil {
		r.real.parts = map[string]*realPart{}
	}
	p := r.real.parts[kind]
	if p == nil {
		p = &realPart{}
		r.real.parts[kind] = p
	}
	p.count++
	p.d += d
}

// RealTimeEstimate is the run's real-server time: the total and a line saying what it is made of
// ("about 1h12m on real servers: 37 load points 58m, 3 server starts 4m30s"); ok is false when
// nothing was noted.
func (r *Run) RealTimeEstimate() (total time.Duration, parts map[string]time.Duration, line string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.real.parts) == 0 {
		return 0, nil, "", false
	}
	kinds := make([]string, 0, len(r.real.parts))
	parts = map[string]time.Duration{}
	for k, p := range r.real.parts {
		kinds = append(kinds, k)
		total += p.d
		parts[k] = p.d
	}
	sort.Strings(kinds)
	var b strings.Builder
	fmt.Fprintf(&b, "on real servers this run would take about %s:", roundDuration(total))
	for i, k := range kinds {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " %d %s", r.real.parts[k].count, k)
		if d := r.real.parts[k].d; d > 0 {
			fmt.Fprintf(&b, " %s", roundDuration(d))
		}
	}
	return total, parts, b.String(), true
}

// roundDuration keeps a duration readable: seconds under ten minutes, minutes above.
func roundDuration(d time.Duration) time.Duration {
	if d < 10*time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(time.Minute)
}
