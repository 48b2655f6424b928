package sweep

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// The worker protocol. A coordinator (workers.go) starts `starlab sweep-worker` and writes one JSON
// line on its stdin, the workerJob. The worker prepares (dataset, HTTP client) and answers
// {"ready":true}. The coordinator then writes {"origin":UNIX_NS}, the shared instant that every
// offset refers to (chosen once all workers are ready, so a slow start is not send lag), and the
// worker sends its share. {"stop":true} or the end of stdin stops its sending at once (stop_when,
// or a coordinator gone). On stdout the worker writes a line per send ("s"), per send dropped at
// max_concurrency ("d"), per finished request ("r", the whole RequestRecord with chunk times), a
// heartbeat ("hb") twice a second, and {"done":true} last. Every time is nanoseconds from origin.

// WorkerCommandName is starlab's hidden subcommand that runs WorkerMain.
const WorkerCommandName = "sweep-worker"

// workerJob is one worker's share of a point.
type workerJob struct {
	Worker    int       `json:"worker"`
	URL       string    `json:"url"`
	Model     string    `json:"model"`
	APIKey    string    `json:"api_key,omitempty"`
	Endpoint  Endpoint  `json:"endpoint"`
	IgnoreEOS bool      `json:"ignore_eos"`
	Sampling  *Sampling `json:"sampling,omitempty"`
	Dataset   wireData  `json:"dataset"`
	// Open loop: this worker's sends, in schedule order (request index and intended offset).
	Sends []wireSend `json:"sends,omitempty"`
	// Closed loop: Concurrency loops whose k-th request has index First + k·Stride, sending until
	// NumRequests measured sends went out, or until End when NumRequests is 0.
	Concurrency int           `json:"concurrency,omitempty"`
	First       int           `json:"first,omitempty"`
	Stride      int           `json:"stride,omitempty"`
	NumRequests int           `json:"num_requests,omitempty"`
	End         time.Duration `json:"end,omitempty"`
	Warmup      time.Duration `json:"warmup"`
	// MaxConcurrency is this worker's part of the point's max_concurrency (open loop).
	MaxConcurrency int           `json:"max_concurrency,omitempty"`
	OnFull         FullPolicy    `json:"on_full,omitempty"`
	Timeout        time.Duration `json:"timeout"`
	Grace          time.Duration `json:"grace"`
}

// wireData is a dataset as a worker rebuilds it: a random spec regenerates the same items by
// index; a file dataset travels as its items.
type wireData struct {
	Random *RandomSpec `json:"random,omitempty"`
	Items  []Item      `json:"items,omitempty"`
}

func dataOf(d *Dataset) wireData {
	if d.random != nil {
		return wireData{Random: d.random}
	}
	return wireData{Items: d.items}
}

func (w wireData) dataset() (*Dataset, error) {
	switch {
	case w.Random != nil:
		return &Dataset{Kind: "random", random: w.Random}, nil
	case len(w.Items) > 0:
		return &Dataset{Kind: "items", items: w.Items}, nil
	}
	return nil, fmt.Errorf("the job has no dataset")
}

// wireSend is a scheduled send; Sent is when it went out (on "s" lines).
type wireSend struct {
	I    int           `json:"i"`
	At   time.Duration `json:"at"`
	Sent time.Duration `json:"sent,omitempty"`
}

// wireRecord is a RequestRecord with its times, which RequestRecord's own JSON leaves out.
type wireRecord struct {
	Index         int             `json:"i"`
	Intended      time.Duration   `json:"at"`
	Sent          time.Duration   `json:"sent"`
	First         time.Duration   `json:"first"`
	Last          time.Duration   `json:"last"`
	Done          time.Duration   `json:"done"`
	Chunks        []time.Duration `json:"chunks,omitempty"`
	InputTokens   int             `json:"in"`
	OutputTokens  int             `json:"out"`
	ChunkCount    int             `json:"n"`
	UsageReported bool            `json:"usage,omitempty"`
	Err           string          `json:"err,omitempty"`
	Detail        string          `json:"detail,omitempty"`
	Incomplete    bool            `json:"incomplete,omitempty"`
}

func wireOf(r *RequestRecord) *wireRecord {
	return &wireRecord{Index: r.Index, Intended: r.Intended, Sent: r.Sent, First: r.First, Last: r.Last, Done: r.Done,
		Chunks: r.Chunks, InputTokens: r.InputTokens, OutputTokens: r.OutputTokens, ChunkCount: r.ChunkCount,
		UsageReported: r.UsageReported, Err: r.Err, Detail: r.Detail, Incomplete: r.Incomplete}
}

func (w *wireRecord) record() *RequestRecord {
	return &RequestRecord{Index: w.Index, Intended: w.Intended, Sent: w.Sent, First: w.First, Last: w.Last, Done: w.Done,
		Chunks: w.Chunks, InputTokens: w.InputTokens, OutputTokens: w.OutputTokens, ChunkCount: w.ChunkCount,
		UsageReported: w.UsageReported, Err: w.Err, Detail: w.Detail, Incomplete: w.Incomplete}
}

// workerLine is one line of a worker's stdout (one field set) or of its stdin after the job.
type workerLine struct {
	Ready     bool        `json:"ready,omitempty"`
	Send      *wireSend   `json:"s,omitempty"`
	Drop      *wireSend   `json:"d,omitempty"`
	Rec       *wireRecord `json:"r,omitempty"`
	Heartbeat bool        `json:"hb,omitempty"`
	Done      bool        `json:"done,omitempty"`
	// Coordinator to worker.
	Origin int64 `json:"origin,omitempty"`
	Stop   bool  `json:"stop,omitempty"`
}

// WorkerMain runs one worker: it reads its job from in and streams its sends and records to out
// until its share is sent and drained, it is told to stop, or ctx ends. A returned error is a
// job it could not run; failed requests are records, not errors.
func WorkerMain(ctx context.Context, in io.Reader, out io.Writer) error {
	br := bufio.NewReaderSize(in, 1<<20)
	line, err := br.ReadBytes('\n')
	var job workerJob
	if jerr := json.Unmarshal(line, &job); jerr != nil {
		return fmt.Errorf("reading the job from stdin: %v (read: %v)", jerr, err)
	}
	ds, err := job.Dataset.dataset()
	if err != nil {
		return err
	}
	conns := cmp.Or(job.Concurrency, job.MaxConcurrency, 1024)
	client := newHTTPClient(job.URL, job.Model, job.APIKey, cmp.Or(job.Endpoint, EndpointCompletions), conns, job.IgnoreEOS)
	client.extra = job.Sampling.fragment()
	defer client.close()
	w := &worker{job: job, ds: ds, do: client.do, out: &lineWriter{bw: bufio.NewWriterSize(out, 256<<10)}}
	w.out.emit(workerLine{Ready: true})
	if err := w.out.flush(); err != nil {
		return err
	}
	line, err = br.ReadBytes('\n')
	var start workerLine
	if err != nil || json.Unmarshal(line, &start) != nil || start.Origin == 0 {
		return nil // the coordinator is gone, or gave up before the start
	}
	w.origin = time.Unix(0, start.Origin)
	w.sending, w.halt = context.WithCancel(ctx)
	defer w.halt()
	go func() {
		for {
			line, err := br.ReadBytes('\n')
			var l workerLine
			if err != nil || (json.Unmarshal(line, &l) == nil && l.Stop) {
				w.halt()
				return
			}
		}
	}()
	stopBeat := w.heartbeat()
	w.run()
	stopBeat()
	w.out.emit(workerLine{Done: true})
	return w.out.flush()
}

// worker sends one job's requests on the wall clock, like wallRun does for a whole point.
type worker struct {
	job    workerJob
	ds     *Dataset
	do     func(ctx context.Context, item Item, rec *RequestRecord, origin time.Time) error
	out    *lineWriter
	origin time.Time

	sending   context.Context // ends on stop, a coordinator gone or cancellation
	halt      context.CancelFunc
	reqCtx    context.Context
	cancelReq context.CancelFunc
	wg        sync.WaitGroup
}

func (w *worker) now() time.Duration { return time.Since(w.origin) }

// heartbeat flushes the output every 100 ms (records reach the coordinator's stop_when within its
// second) and says the worker is alive twice a second; a coordinator whose pipe is gone halts
// the worker.
func (w *worker) heartbeat() func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-done:
				return
			case <-tick.C:
				if n%5 == 0 {
					w.out.emit(workerLine{Heartbeat: true})
				}
				if w.out.flush() != nil {
					w.halt()
				}
			}
		}
	}()
	return func() { close(done); <-stopped }
}

func (w *worker) run() {
	w.reqCtx, w.cancelReq = context.WithCancel(context.WithoutCancel(w.sending))
	defer w.cancelReq()
	if w.job.Concurrency > 0 {
		w.closedLoop()
	} else {
		w.openLoop()
	}
	w.drain()
}

// openLoop sends the job's schedule at its offsets; max_concurrency (this worker's part) waits
// for a slot or drops, as the point's own loop does.
func (w *worker) openLoop() {
	var sem chan struct{}
	if w.job.MaxConcurrency > 0 {
		sem = make(chan struct{}, w.job.MaxConcurrency)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for _, s := range w.job.Sends {
		if d := time.Until(w.origin.Add(s.At)); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-w.sending.Done():
				return
			}
		}
		if w.sending.Err() != nil {
			return
		}
		if sem != nil {
			select {
			case sem <- struct{}{}:
			default:
				if w.job.OnFull == FullDrop {
					w.out.emit(workerLine{Drop: &wireSend{I: s.I, At: s.At}})
					continue
				}
				select {
				case sem <- struct{}{}:
				case <-w.sending.Done():
					return
				}
			}
		}
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.one(s.I, s.At)
			if sem != nil {
				<-sem
			}
		}()
	}
}

// closedLoop runs the job's loops back to back with the point's own rules for when sending ends
// (pointCore.take), over this worker's share of the measured requests.
func (w *worker) closedLoop() {
	tk := &pointCore{o: Options{Warmup: w.job.Warmup, NumRequests: w.job.NumRequests}, end: w.job.End}
	sending, over := context.WithCancel(w.sending)
	defer over()
	time.Sleep(time.Until(w.origin))
	for range w.job.Concurrency {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for sending.Err() == nil {
				at := w.now()
				k, ok := tk.take(at)
				if !ok {
					over()
					return
				}
				w.one(w.job.First+k*max(w.job.Stride, 1), at)
			}
		}()
	}
	if end, ok := tk.deadline(); ok {
		defer time.AfterFunc(time.Until(w.origin.Add(end)), over).Stop()
	}
	<-sending.Done()
}

// one sends request i intended at at and reports it twice: when it goes out and when it ends.
func (w *worker) one(i int, at time.Duration) {
	rec := &RequestRecord{Index: i, Intended: at}
	w.out.emit(workerLine{Send: &wireSend{I: i, At: at, Sent: w.now()}})
	ctx, cancel := context.WithTimeout(w.reqCtx, w.job.Timeout)
	err := w.do(ctx, w.ds.Item(i), rec, w.origin)
	cancel()
	rec.Done = w.now()
	if err != nil {
		if w.reqCtx.Err() != nil {
			rec.Incomplete = true
		} else {
			rec.Err = classify(err)
		}
		rec.Detail = err.Error()
	}
	w.out.emit(workerLine{Rec: wireOf(rec)})
}

// drain waits for in-flight requests up to Grace, not at all once stopped (wallRun.drain).
func (w *worker) drain() {
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	grace := time.NewTimer(w.job.Grace)
	defer grace.Stop()
	select {
	case <-done:
		return
	case <-grace.C:
	case <-w.sending.Done():
	}
	w.cancelReq()
	<-done
}

// lineWriter writes JSON lines from many goroutines; the heartbeat flushes it.
type lineWriter struct {
	mu sync.Mutex
	bw *bufio.Writer
}

func (l *lineWriter) emit(v workerLine) {
	data, _ := json.Marshal(v)
	l.mu.Lock()
	l.bw.Write(append(data, '\n'))
	l.mu.Unlock()
}

func (l *lineWriter) flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bw.Flush()
}
