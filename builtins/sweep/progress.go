package sweep

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"
)

// ProgressOptions controls live progress. On a terminal Out gets a one-line bar redrawn every
// Interval; otherwise the Logger gets an info line every LogInterval.
type ProgressOptions struct {
	Disable     bool
	Out         io.Writer     // default os.Stderr; a bar only if it is a terminal
	Interval    time.Duration // bar refresh, default 200ms
	LogInterval time.Duration // log line period when not a terminal, default 10s
}

// progress renders one point's live counters.
type progress struct {
	opt     ProgressOptions
	log     zerolog.Logger
	spec    PointSpec
	tty     bool
	lastLog time.Time
	total   int // expected sends, 0 if unknown
}

func newProgress(o ProgressOptions, log zerolog.Logger, spec PointSpec, total int) *progress {
	if o.Out == nil {
		o.Out = os.Stderr
	}
	if o.Interval <= 0 {
		o.Interval = 200 * time.Millisecond
	}
	if o.LogInterval <= 0 {
		o.LogInterval = 10 * time.Second
	}
	p := &progress{opt: o, log: log, spec: spec, total: total, lastLog: time.Now()}
	if f, ok := o.Out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

// update is called about every Interval with the aggregator's live counters and elapsed time.
func (p *progress) update(a *Aggregator, elapsed time.Duration, final bool) {
	if p.opt.Disable {
		return
	}
	sent, done, errs, p50 := a.Live()
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(sent) / s
	}
	if p.tty {
		bar := ""
		if p.total > 0 {
			w := 24
			n := min(w, done*w/p.total)
			bar = "[" + strings.Repeat("=", n) + strings.Repeat(" ", w-n) + "] "
		}
		end := "\r"
		if final {
			end = "\n"
		}
		fmt.Fprintf(p.opt.Out, "\x1b[2K%s %s%d sent %d done %d err  %.1f req/s  p50 TTFT %.1f ms  %s%s",
			p.spec, bar, sent, done, errs, rate, p50, elapsed.Truncate(time.Second), end)
		return
	}
	if !final && time.Since(p.lastLog) < p.opt.LogInterval {
		return
	}
	p.lastLog = time.Now()
	p.log.Info().Str("point", p.spec.String()).Int("sent", sent).Int("done", done).Int("errors", errs).
		Float64("send_rate", rate).Float64("p50_ttft_ms", p50).Dur("elapsed", elapsed).Msg("sweep: progress")
}
