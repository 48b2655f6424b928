package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Env of a test worker: after STARLAB_TEST_WORKER_FAULT_AFTER records it dies ("die") or falls
// silent ("hang"), if it is the first to create the file STARLAB_TEST_WORKER_FAULT_FLAG.
const (
	faultEnv      = "STARLAB_TEST_WORKER_FAULT"
	faultAfterEnv = "STARLAB_TEST_WORKER_FAULT_AFTER"
	faultFlagEnv  = "STARLAB_TEST_WORKER_FAULT_FLAG"
)

// testWorkerMain is the test binary as `starlab sweep-worker`, with the faults above.
func testWorkerMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	var out io.Writer = os.Stdout
	if f := os.Getenv(faultEnv); f != "" {
		n, _ := strconv.Atoi(os.Getenv(faultAfterEnv))
		out = &faultWriter{w: os.Stdout, fault: f, after: n, flag: os.Getenv(faultFlagEnv)}
	}
	if err := WorkerMain(ctx, os.Stdin, out); err != nil {
		os.Stderr.WriteString("sweep-worker: " + err.Error() + "\n")
		return 1
	}
	return 0
}

// faultWriter passes a worker's output on until it has carried `after` records.
type faultWriter struct {
	w     io.Writer
	fault string
	after int
	flag  string
	seen  int
}

func (f *faultWriter) Write(b []byte) (int, error) {
	f.seen += strings.Count(string(b), `"r":`)
	if f.seen >= f.after {
		if fl, err := os.OpenFile(f.flag, os.O_CREATE|os.O_EXCL, 0o644); err == nil {
			fl.Close()
			if f.fault == "die" {
				os.Exit(3)
			}
			select {} // hang: alive, silent
		}
	}
	return f.w.Write(b)
}

// trackWorkers makes o's workers this test binary and returns their processes so far.
func trackWorkers(o *Options) func() []*exec.Cmd {
	var mu sync.Mutex
	var cmds []*exec.Cmd
	o.WorkerCommand = func(int) (*exec.Cmd, error) {
		cmd := exec.Command(os.Args[0], WorkerCommandName)
		cmd.Env = append(os.Environ(), WorkerEnv+"=1")
		mu.Lock()
		cmds = append(cmds, cmd)
		mu.Unlock()
		return cmd, nil
	}
	return func() []*exec.Cmd {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(cmds)
	}
}

// assertReaped fails if a worker's process group still has a live process.
func assertReaped(t *testing.T, cmds []*exec.Cmd) {
	t.Helper()
	for _, c := range cmds {
		if c.Process == nil {
			continue
		}
		if c.ProcessState == nil {
			t.Errorf("worker %d was not waited for", c.Process.Pid)
			syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			c.Wait()
		} else if err := syscall.Kill(-c.Process.Pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("worker group %d is still alive (%v)", c.Process.Pid, err)
		}
	}
}

type sentAt struct {
	i  int
	at time.Duration
}

// An open loop split over two workers sends exactly the requests of one process (same indices,
// same intended times) and the point counts all of them; a closed loop's loops and num_requests
// are split without sending an index twice.
func TestClientsSplitTheSchedule(t *testing.T) {
	f := &fakeServer{TokenDelay: time.Millisecond}
	s := f.start(t)
	run := func(clients int, spec PointSpec, num int) (Point, []sentAt) {
		o := testOptions(t)
		o.Duration, o.Warmup, o.NumRequests, o.Clients = time.Second, 200*time.Millisecond, num, clients
		cmds := trackWorkers(&o)
		var mu sync.Mutex
		var recs []sentAt
		o.OnRecord = func(_ PointSpec, r *RequestRecord) {
			mu.Lock()
			recs = append(recs, sentAt{r.Index, r.Intended})
			mu.Unlock()
		}
		p, err := RunPoint(context.Background(), Target{URL: s.URL, Model: "m"}, o, spec)
		if err != nil {
			t.Fatal(err)
		}
		want := clients
		if spec.Concurrency > 0 {
			want = min(clients, spec.Concurrency)
		}
		if got := len(cmds()); clients > 1 && got != want {
			t.Errorf("%d workers started, want %d", got, want)
		}
		assertReaped(t, cmds())
		slices.SortFunc(recs, func(a, b sentAt) int { return a.i - b.i })
		return p, recs
	}
	one, recs1 := run(1, PointSpec{Rate: 60}, 0)
	two, recs2 := run(2, PointSpec{Rate: 60}, 0)
	if !slices.Equal(recs1, recs2) {
		t.Errorf("two workers sent %d requests, one process %d, or at other times", len(recs2), len(recs1))
	}
	if two.Client.Sent != one.Client.Sent || two.Completed != two.Client.Sent || two.Failed+two.Incomplete != 0 {
		t.Errorf("two workers: sent %d completed %d failed %d incomplete %d; one process sent %d",
			two.Client.Sent, two.Completed, two.Failed, two.Incomplete, one.Client.Sent)
	}
	if r1, r2 := float64(one.RequestThroughput), float64(two.RequestThroughput); r2 < 0.8*r1 || r2 > 1.2*r1 {
		t.Errorf("request throughput %v with two workers, %v with one", r2, r1)
	}
	if two.Client.Clients != 2 || one.Client.Clients != 0 || one.Client.Workers != nil {
		t.Errorf("clients: %d and %d, workers with one: %s", two.Client.Clients, one.Client.Clients, one.Client.Workers)
	}
	ws := workerStats(t, two)
	if len(ws) != 2 || ws[0].Sent+ws[1].Sent != two.Client.Sent || ws[0].Sent == 0 || ws[1].Sent == 0 ||
		ws[0].Error != "" || !(ws[0].SendLagP99Ms >= 0) {
		t.Errorf("workers %+v", ws)
	}

	closed, recs := run(2, PointSpec{Concurrency: 3}, 14)
	idx := make([]int, len(recs))
	for i, r := range recs {
		idx[i] = r.i
	}
	if closed.Completed != 14 || len(slices.Compact(idx)) != len(recs) || len(workerStats(t, closed)) != 2 {
		t.Errorf("closed loop: completed %d (want 14), indices %v, workers %s", closed.Completed, idx, closed.Client.Workers)
	}
}

func workerStats(t *testing.T, p Point) []WorkerStats {
	t.Helper()
	var ws []WorkerStats
	if err := json.Unmarshal(p.Client.Workers, &ws); err != nil {
		t.Fatalf("client.workers %s: %v", p.Client.Workers, err)
	}
	return ws
}

// A worker that dies mid-point, or falls silent, fails its requests in flight as
// client_worker_died on a point that is kept; the sweep goes on to its next point.
func TestWorkerDiesMidPoint(t *testing.T) {
	for _, fault := range []string{"die", "hang"} {
		t.Run(fault, func(t *testing.T) {
			f := &fakeServer{TokenDelay: 20 * time.Millisecond}
			s := f.start(t)
			t.Setenv(faultEnv, fault)
			t.Setenv(faultAfterEnv, "3")
			t.Setenv(faultFlagEnv, filepath.Join(t.TempDir(), "fault"))
			o := testOptions(t)
			o.Duration, o.Clients, o.Timeout = time.Second, 2, time.Second
			cmds := trackWorkers(&o)
			start := time.Now()
			res, err := Run(context.Background(), Target{URL: s.URL, Model: "m"},
				Config{Name: "dies", Rates: []float64{50, 50}, Options: o})
			if err != nil || len(res.Points) != 2 {
				t.Fatalf("%v, %d points", err, len(res.Points))
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
			p := res.Points[0]
			ws := workerStats(t, p)
			if p.Errors[errWorkerDied] == 0 || p.Completed == 0 || len(ws) != 2 || (ws[0].Error == "") == (ws[1].Error == "") {
				t.Fatalf("errors %v, completed %d, workers %+v", p.Errors, p.Completed, ws)
			}
			want := "exited (exit status 3)"
			if fault == "hang" {
				want = "no word from it"
			}
			if !strings.Contains(ws[0].Error+ws[1].Error, want) {
				t.Errorf("worker error %q, want %q", ws[0].Error+ws[1].Error, want)
			}
			if q := res.Points[1]; q.Errors[errWorkerDied] != 0 || q.Completed == 0 {
				t.Errorf("the next point: errors %v, completed %d", q.Errors, q.Completed)
			}
			assertReaped(t, cmds())
		})
	}
}

// Cancelling the run (Ctrl-C) kills the workers at once and gives the partial point.
func TestWorkersCancelled(t *testing.T) {
	f := &fakeServer{StallAfter: 1}
	s := f.start(t)
	o := testOptions(t)
	o.Duration, o.Timeout, o.Grace, o.Clients = time.Minute, time.Minute, time.Minute, 2
	cmds := trackWorkers(&o)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(time.Second, cancel)
	start := time.Now()
	p, err := RunPoint(ctx, Target{URL: s.URL, Model: "m"}, o, PointSpec{Rate: 20})
	if err == nil || time.Since(start) > 3*time.Second || !p.StoppedEarly || p.Incomplete == 0 || len(cmds()) != 2 {
		t.Fatalf("err %v after %v, %d workers, point %+v", err, time.Since(start), len(cmds()), p)
	}
	assertReaped(t, cmds())
}

// A worker that cannot start is the point's error, not a hang.
func TestWorkerCannotStart(t *testing.T) {
	o := testOptions(t)
	o.Clients, o.Duration = 2, time.Second
	o.WorkerCommand = func(int) (*exec.Cmd, error) { return exec.Command("/bin/sh", "-c", "echo broken >&2; exit 7"), nil }
	_, err := RunPoint(context.Background(), Target{URL: "http://127.0.0.1:1", Model: "m"}, o, PointSpec{Rate: 5})
	if err == nil || !strings.Contains(err.Error(), "before it was ready") || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("err %v", err)
	}
}
