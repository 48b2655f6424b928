package sweep

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// Distributed load generation (sweep's clients=N). The coordinator keeps every rule of the point
// (pointCore): it draws the schedule from the seed exactly as one process would, hands request i
// of an open loop to worker i mod N with its intended offset unchanged, and splits a closed loop's
// concurrency (and num_requests) as evenly as it can, worker w's loops taking the request indices
// w, w+N, w+2N, ... so that no index, hence no dataset item, is sent twice. Workers stream each
// request back as its full record; the coordinator folds the records into the point's one
// Aggregator, so the histograms, counts and intervals are those of the same records measured by
// one process. What differs is only what N processes do differently on the wall clock: which
// records there are in a closed loop (the loops' pace), and max_concurrency, which bounds each
// worker's share (max_concurrency/N, at least 1) rather than the whole.

// errWorkerDied is the error reason of the requests a dead worker left in flight or overdue.
const errWorkerDied = "client_worker_died"

// WorkerEnv, set to 1 in a worker's environment, makes a test binary (whose TestMain checks it)
// run WorkerMain: a local worker is this executable with the sweep-worker subcommand, and a test
// binary is not starlab.
const WorkerEnv = "STARLAB_SWEEP_WORKER"

// workerReadyTimeout bounds a worker's start, from its launch to its ready line.
var workerReadyTimeout = 2 * time.Minute

// WorkerStats is one worker process's part of a point (client.workers): its send figures,
// computed by the coordinator from the records it streamed, with the rules of the point's client.
type WorkerStats struct {
	Worker            int    `json:"worker"`
	SendLagP50Ms      Float  `json:"send_lag_p50_ms"`
	SendLagP99Ms      Float  `json:"send_lag_p99_ms"`
	SendLagMaxMs      Float  `json:"send_lag_max_ms"`
	Sent              int    `json:"sent"`
	Dropped           int    `json:"dropped"`
	AchievedSendRate  Float  `json:"achieved_send_rate"`
	ScheduledSendRate Float  `json:"scheduled_send_rate"`
	Bottleneck        bool   `json:"bottleneck"`
	BottleneckReason  string `json:"bottleneck_reason,omitempty"`
	// Error says why the worker ended before its share did (it exited, or fell silent for longer
	// than the point's request timeout); its requests then in flight failed as client_worker_died.
	Error string `json:"error,omitempty"`
}

// localWorkerCommand runs this executable's sweep-worker subcommand in its own process group.
func localWorkerCommand(int) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding starlab's executable for the load-generator workers: %w", err)
	}
	cmd := exec.Command(exe, WorkerCommandName)
	cmd.Env = append(os.Environ(), WorkerEnv+"=1")
	return cmd, nil
}

// workerProc is one worker process as the coordinator follows it.
type workerProc struct {
	w        int
	job      workerJob
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	stderr   *tailWriter
	agg      *Aggregator      // its records alone, for its send figures
	inflight map[int]wireSend // sent, not finished
	pos      int              // open loop: job.Sends accounted for (sent or dropped), in order
	dropped  int              // measured sends dropped
	lastSeen time.Time        // its last line
	ready    bool
	finished bool                 // said done, or died
	died     error                // why it ended early
	stop     func(int, *exec.Cmd) // Options.WorkerStop
}

// workerEvent is a line a worker wrote, or the end of its output (err: io.EOF or a read error).
type workerEvent struct {
	w    int
	line workerLine
	err  error
}

// workerJobs splits the point into one job per worker and returns the open loop's send-window
// end (the first unsent offset, as openLoop returns it).
func (c *pointCore) workerJobs(t Target, n int) ([]workerJob, time.Duration, error) {
	o := &c.o
	if o.Dataset.trace != nil || o.Dataset.conv != nil {
		// Workers rebuild the requests from a random spec or a file's items; a streamed trace
		// and sessions that follow their own answers stay in one process.
		return nil, 0, fmt.Errorf("clients > 1 needs a random, jsonl or sharegpt dataset, not %q", o.Dataset.Kind)
	}
	base := workerJob{URL: t.URL, Model: t.Model, APIKey: t.APIKey, Endpoint: t.Endpoint, IgnoreEOS: !o.AllowEOS,
		Dataset: dataOf(o.Dataset), Warmup: o.Warmup, Timeout: o.Timeout, Grace: o.Grace, OnFull: o.OnFull,
		Sampling: o.Sampling}
	if c.spec.Concurrency > 0 {
		n = min(n, c.spec.Concurrency) // a worker without a loop would have nothing to do
		jobs := make([]workerJob, n)
		for w := range jobs {
			j := base
			j.Worker, j.First, j.Stride = w, w, n
			j.Concurrency = share(c.spec.Concurrency, n, w)
			j.End = o.Warmup + o.Duration
			if o.NumRequests > 0 {
				// The measured requests in proportion to the loops, largest remainders first.
				j.NumRequests = o.NumRequests * j.Concurrency / c.spec.Concurrency
				if j.NumRequests == 0 {
					j.End = o.Warmup // no measured share: warmup requests only
				}
			}
			jobs[w] = j
		}
		if o.NumRequests > 0 {
			left := o.NumRequests
			for _, j := range jobs {
				left -= j.NumRequests
			}
			for w := 0; left > 0; w = (w + 1) % n {
				if jobs[w].NumRequests == 0 {
					jobs[w].End = o.Warmup + o.Duration
				}
				jobs[w].NumRequests++
				left--
			}
		}
		return jobs, 0, nil
	}
	if math.IsInf(c.spec.Rate, 1) && o.NumRequests == 0 {
		return nil, 0, fmt.Errorf("clients > 1 at an infinite rate needs num_requests")
	}
	jobs := make([]workerJob, n)
	for w := range jobs {
		jobs[w] = base
		jobs[w].Worker = w
		if o.MaxConcurrency > 0 {
			jobs[w].MaxConcurrency = max(share(o.MaxConcurrency, n, w), 1)
		}
	}
	// openLoop's rules, without a clock: which sends go out and where the window ends.
	measured := 0
	for i := 0; ; i++ {
		at, more := c.arr.next()
		if !more {
			return jobs, c.last0 + time.Nanosecond, nil
		}
		c.last0 = at
		if o.NumRequests > 0 {
			if measured >= o.NumRequests {
				return jobs, at, nil
			}
		} else if at >= c.end {
			return jobs, c.end, nil
		}
		jobs[i%n].Sends = append(jobs[i%n].Sends, wireSend{I: i, At: at})
		if at >= o.Warmup {
			measured++
		}
	}
}

// share is worker w's part of total split n ways as evenly as possible.
func share(total, n, w int) int {
	s := total / n
	if w < total%n {
		s++
	}
	return s
}

// runWorkers measures the point with worker processes and returns the send window's end and the
// origin every offset refers to. An error is a point that could not start (a worker that did not
// come up); a worker dying later is recorded on the point instead.
func (c *pointCore) runWorkers(ctx context.Context, t Target) (time.Duration, time.Time, []WorkerStats, error) {
	jobs, planEnd, err := c.workerJobs(t, c.o.Clients)
	if err != nil {
		return 0, time.Time{}, nil, err
	}
	launch := c.o.WorkerCommand
	if launch == nil {
		launch = localWorkerCommand
	}
	events := make(chan workerEvent, 1024)
	quit := make(chan struct{})
	var readers sync.WaitGroup
	procs := make([]*workerProc, len(jobs))
	defer func() {
		killAll(procs)
		close(quit)
		readers.Wait()
	}()
	for w, job := range jobs {
		p, err := startWorker(launch, w, job, c.o.Warmup, events, quit, &readers)
		if err != nil {
			return 0, time.Time{}, nil, err
		}
		p.stop = c.o.WorkerStop
		procs[w] = p
	}
	c.o.Logger.Info().Int("clients", len(procs)).Str("point", c.spec.String()).Msg("sweep: load-generator workers started")

	// Every worker ready, then one origin for all.
	readyBy := time.NewTimer(workerReadyTimeout)
	defer readyBy.Stop()
	for waiting := len(procs); waiting > 0; {
		select {
		case ev := <-events:
			p := procs[ev.w]
			switch {
			case ev.err != nil:
				return 0, time.Time{}, nil, fmt.Errorf("load-generator worker %d ended before it was ready: %s", ev.w, p.exitReason(ev.err))
			case ev.line.Ready && !p.ready:
				p.ready = true
				waiting--
			}
		case <-readyBy.C:
			return 0, time.Time{}, nil, fmt.Errorf("load-generator workers not ready after %v", workerReadyTimeout)
		case <-ctx.Done():
			return 0, time.Now(), nil, nil // cancelled before sending: an empty partial point
		}
	}
	origin := time.Now().Add(50 * time.Millisecond)
	start, _ := json.Marshal(workerLine{Origin: origin.UnixNano()})
	now := func() time.Duration { return time.Since(origin) }
	for _, p := range procs {
		p.lastSeen = time.Now()
		p.stdin.Write(append(start, '\n'))
	}

	prog := newProgress(c.o.Progress, c.o.Logger, c.spec, c.o.NumRequests)
	tick := time.NewTicker(prog.opt.Interval)
	defer tick.Stop()
	second := time.NewTimer(time.Until(origin.Add(time.Second)))
	defer second.Stop()
	next := 2 * time.Second
	var stopAt time.Duration
	stopped, cancelled := false, false
	running := len(procs)
	for running > 0 && !cancelled {
		select {
		case ev := <-events:
			p := procs[ev.w]
			if p.finished {
				continue
			}
			p.lastSeen = time.Now()
			if ev.err != nil {
				c.workerDied(p, now(), stopped, p.exitReason(ev.err))
				running--
				continue
			}
			c.workerLine(p, ev.line)
			if p.finished {
				running--
			}
		case <-tick.C:
			prog.update(c.agg, now(), false)
		case <-second.C:
			if !stopped && c.check(now()) {
				stopped, stopAt = true, now()
				stop, _ := json.Marshal(workerLine{Stop: true})
				for _, p := range procs {
					p.stdin.Write(append(stop, '\n'))
				}
			}
			// A worker silent for longer than a request may take is hung: it fails like a dead one.
			for _, p := range procs {
				if !p.finished && time.Since(p.lastSeen) > c.o.Timeout {
					p.kill()
					c.workerDied(p, now(), stopped, fmt.Errorf("no word from it for %v", time.Since(p.lastSeen).Round(time.Second)))
					running--
				}
			}
			second.Reset(time.Until(origin.Add(next)))
			next += time.Second
		case <-ctx.Done():
			cancelled = true
		}
	}
	end := now()
	if cancelled {
		killAll(procs)
		for _, p := range procs {
			for _, s := range p.pending() {
				c.finishFor(p, &RequestRecord{Index: s.I, Intended: s.At, Sent: s.Sent, Done: end, Incomplete: true,
					Detail: ctx.Err().Error()})
			}
		}
	}
	prog.update(c.agg, end, true)

	var sendEnd time.Duration
	switch {
	case cancelled:
		sendEnd = end
	case c.spec.Concurrency > 0:
		sendEnd = c.closedEnd(end)
	case stopped:
		sendEnd = stopAt
	default:
		sendEnd = planEnd
	}
	stats := make([]WorkerStats, len(procs))
	tol := c.o.LagTolerance
	if tol <= 0 {
		tol = LagTolerance(c.spec.Rate)
	}
	for w, p := range procs {
		var cs ClientStats
		p.agg.mu.Lock()
		p.agg.clientStats(&cs, p.dropped)
		p.agg.mu.Unlock()
		pt := Point{Client: cs}
		judgeClient(&pt, tol)
		cs = pt.Client
		stats[w] = WorkerStats{Worker: w, SendLagP50Ms: cs.SendLagP50Ms, SendLagP99Ms: cs.SendLagP99Ms,
			SendLagMaxMs: cs.SendLagMaxMs, Sent: cs.Sent, Dropped: cs.Dropped, AchievedSendRate: cs.AchievedSendRate,
			ScheduledSendRate: cs.ScheduledSendRate, Bottleneck: cs.Bottleneck, BottleneckReason: cs.BottleneckReason}
		if p.died != nil {
			stats[w].Error = p.died.Error()
		}
	}
	return sendEnd, origin, stats, nil
}

// noteWorkers puts the workers' own figures on the point and flags the client as the bottleneck
// when any worker was, though the pooled figures may hide one slow process among fast ones.
func noteWorkers(p *Point, workers []WorkerStats, log zerolog.Logger, spec PointSpec) {
	p.Client.Workers, _ = json.Marshal(workers)
	var why []string
	for _, w := range workers {
		if w.Bottleneck {
			why = append(why, fmt.Sprintf("worker %d: %s", w.Worker, w.BottleneckReason))
		}
	}
	if len(why) == 0 {
		return
	}
	was := p.Client.Bottleneck
	p.Client.Bottleneck = true
	p.Client.BottleneckReason = strings.Join(append(slices.DeleteFunc([]string{p.Client.BottleneckReason},
		func(s string) bool { return s == "" }), why...), "; ")
	if !was {
		log.Warn().Str("point", spec.String()).Str("reason", p.Client.BottleneckReason).
			Msg("sweep: a load-generator worker was the bottleneck; this point measures the client, not the server")
	}
}

// startWorker launches worker w, writes its job and starts reading its output.
func startWorker(launch func(int) (*exec.Cmd, error), w int, job workerJob, warmup time.Duration,
	events chan<- workerEvent, quit <-chan struct{}, readers *sync.WaitGroup) (*workerProc, error) {
	cmd, err := launch(w)
	if err != nil {
		return nil, err
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true // killed as a group with whatever it starts
	p := &workerProc{w: w, job: job, cmd: cmd, stderr: &tailWriter{}, agg: NewAggregator(warmup, nil),
		inflight: map[int]wireSend{}}
	cmd.Stderr = p.stderr
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting load-generator worker %d: %w", w, err)
	}
	data, err := json.Marshal(job)
	if err != nil {
		p.kill()
		return nil, err
	}
	go p.stdin.Write(append(data, '\n')) // a large schedule may fill the pipe before the worker reads
	readers.Add(1)
	go func() {
		defer readers.Done()
		br := bufio.NewReaderSize(stdout, 1<<20)
		for {
			line, err := br.ReadBytes('\n')
			ev := workerEvent{w: w}
			if err != nil {
				ev.err = err
			} else if jerr := json.Unmarshal(line, &ev.line); jerr != nil {
				ev.err = fmt.Errorf("unreadable line %.80q: %v", line, jerr)
			}
			select {
			case events <- ev:
			case <-quit:
				return
			}
			if ev.err != nil {
				return
			}
		}
	}()
	return p, nil
}

// workerLine takes one line of worker p.
func (c *pointCore) workerLine(p *workerProc, l workerLine) {
	switch {
	case l.Send != nil:
		s := *l.Send
		p.inflight[s.I] = s
		p.pos++
		c.noteClosedSend(s.At)
		c.sent(&RequestRecord{Index: s.I, Intended: s.At})
	case l.Drop != nil:
		p.pos++
		if l.Drop.At >= c.o.Warmup {
			p.dropped++
			c.dropped++
		}
	case l.Rec != nil:
		delete(p.inflight, l.Rec.Index)
		c.finishFor(p, l.Rec.record())
	case l.Done:
		p.finished = true
	}
}

// noteClosedSend keeps closedEnd's last measured send, which the workers' loops decided.
func (c *pointCore) noteClosedSend(at time.Duration) {
	if c.spec.Concurrency == 0 || at < c.o.Warmup {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.o.NumRequests > 0 {
		c.over = true // the workers stop on their own shares; the window ends at the last one
	}
	c.last = max(c.last, at)
}

// finishFor folds a record of worker p into the point and into p's own figures.
func (c *pointCore) finishFor(p *workerProc, r *RequestRecord) {
	c.finish(r) // aggregates, then releases the chunk times
	p.agg.Add(r)
}

// workerDied fails what worker p left in flight, and (open loop, unless stopped) its sends that
// were already due, as client_worker_died at now; its later sends are never made.
func (c *pointCore) workerDied(p *workerProc, now time.Duration, stopped bool, why error) {
	p.kill()
	p.finished, p.died = true, why
	c.o.Logger.Error().Int("worker", p.w).Str("point", c.spec.String()).Err(why).Msg("sweep: load-generator worker died")
	detail := fmt.Sprintf("load-generator worker %d died: %v", p.w, why)
	for _, s := range p.pending() {
		c.finishFor(p, &RequestRecord{Index: s.I, Intended: s.At, Sent: s.Sent, Done: now, Err: errWorkerDied, Detail: detail})
	}
	p.inflight = map[int]wireSend{}
	if stopped {
		return
	}
	for _, s := range p.job.Sends[min(p.pos, len(p.job.Sends)):] {
		if s.At > now {
			break
		}
		c.finishFor(p, &RequestRecord{Index: s.I, Intended: s.At, Sent: now, Done: now, Err: errWorkerDied, Detail: detail})
	}
	p.pos = len(p.job.Sends)
}

// pending is p's requests in flight, in index order.
func (p *workerProc) pending() []wireSend {
	var out []wireSend
	for _, s := range p.inflight {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b wireSend) int { return a.I - b.I })
	return out
}

// exitReason describes the end of p's output: its exit status and the tail of its stderr.
func (p *workerProc) exitReason(err error) error {
	if errors.Is(err, io.EOF) {
		p.kill()
		err = fmt.Errorf("it exited before finishing its share")
		if p.cmd.ProcessState != nil {
			err = fmt.Errorf("it exited (%v) before finishing its share", p.cmd.ProcessState)
		}
	}
	if tail := strings.TrimSpace(p.stderr.String()); tail != "" {
		return fmt.Errorf("%w; stderr: %s", err, tail)
	}
	return err
}

// killAll kills the started workers at once: a Slurm step takes a second or two to end.
func killAll(procs []*workerProc) {
	var wg sync.WaitGroup
	for _, p := range procs {
		if p != nil {
			wg.Go(p.kill)
		}
	}
	wg.Wait()
}

// kill ends p's process group (or has Options.WorkerStop end it) and reaps it; safe to call twice.
func (p *workerProc) kill() {
	if p.cmd.Process == nil || p.cmd.ProcessState != nil {
		return
	}
	if p.stop != nil {
		p.stdin.Close()
		p.stop(p.w, p.cmd)
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.stdin.Close()
	p.cmd.Wait()
}

// tailWriter keeps the last 4 KiB written to it (a worker's stderr, for error messages).
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailWriter) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > 4096 {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-4096:]...)
	}
	return len(b), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
