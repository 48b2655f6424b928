package sweep

import (
	"context"
	"math"
	"testing"
	"time"

	"starlab/builtins/virtual"
)

// fifoServer serves one request at a time, one token per perToken: capacity is
// 1/(out·perToken) requests/s.
type fifoServer struct {
	now      time.Duration
	perToken time.Duration
	queue    []*fifoJob
	busyTill time.Duration
}

type fifoJob struct {
	arrive time.Duration
	req    virtual.Request
	ev     virtual.Events
	sent   int
	next   time.Duration
}

func (s *fifoServer) Now() time.Duration { return s.now }
func (s *fifoServer) Submit(at time.Duration, r virtual.Request, ev virtual.Events) {
	s.queue = append(s.queue, &fifoJob{arrive: at, req: r, ev: ev})
}
func (s *fifoServer) head() (*fifoJob, bool) {
	if len(s.queue) == 0 {
		return nil, false
	}
	j := s.queue[0]
	if j.next == 0 {
		j.next = max(j.arrive, s.busyTill) + s.perToken
	}
	return j, true
}
func (s *fifoServer) NextEvent() (time.Duration, bool) {
	j, ok := s.head()
	if !ok {
		return 0, false
	}
	return j.next, true
}
func (s *fifoServer) RunUntil(t time.Duration) {
	for {
		j, ok := s.head()
		if !ok || j.next > t {
			break
		}
		j.sent++
		j.ev.Chunk(j.next, 1)
		if j.sent == j.req.MaxTokens {
			s.busyTill = j.next
			s.queue = s.queue[1:]
			j.ev.Done(j.next, virtual.Usage{PromptTokens: j.req.PromptTokens, CompletionTokens: j.sent}, nil)
		} else {
			j.next += s.perToken
		}
	}
	s.now = t
}
func (s *fifoServer) Stats() virtual.Stats {
	return virtual.Stats{Running: min(len(s.queue), 1), Waiting: max(len(s.queue)-1, 0)}
}

func TestVirtualPoint(t *testing.T) {
	o := testOptions(t) // 6 output tokens
	o.Duration, o.Warmup = 20*time.Second, 2*time.Second
	srv := &fifoServer{perToken: 10 * time.Millisecond} // 60 ms per request → capacity 16.7/s
	p, err := RunVirtualPoint(context.Background(), srv, o, PointSpec{Rate: 5, Index: 0})
	if err != nil {
		t.Fatal(err)
	}
	if p.Failed != 0 || p.Incomplete != 0 || math.Abs(float64(p.RequestThroughput)-5) > 1 || p.Client.Bottleneck {
		t.Fatalf("%+v", p)
	}
	if math.Abs(float64(p.MedianITLMs)-10) > 0.1 || float64(p.MedianTTFTMs)+1e-9 < 10 {
		t.Errorf("itl %v ttft %v", p.MedianITLMs, p.MedianTTFTMs)
	}
	// Same seed, fresh server: identical point.
	q, _ := RunVirtualPoint(context.Background(), &fifoServer{perToken: 10 * time.Millisecond}, o, PointSpec{Rate: 5, Index: 0})
	if q.MeanTTFTMs != p.MeanTTFTMs || q.Completed != p.Completed {
		t.Error("virtual run not deterministic")
	}
}

// TestVirtualSweepFindsPlateau: throughput follows the offered rate, then flattens at capacity;
// the overloaded points stop early.
func TestVirtualSweepFindsPlateau(t *testing.T) {
	o := testOptions(t)
	o.Duration, o.Warmup = 30*time.Second, 2*time.Second
	o.StopWhen, o.Timeout = &StopWhen{}, time.Hour
	srv := &fifoServer{perToken: 10 * time.Millisecond} // capacity ≈ 16.7 req/s
	res, err := RunVirtual(context.Background(), srv, Config{Name: "ramp", Rates: []float64{5, 10, 40, 80}, Options: o})
	if err != nil {
		t.Fatal(err)
	}
	thr := func(i int) float64 { return float64(res.Points[i].RequestThroughput) }
	if math.Abs(thr(0)-5) > 1 || math.Abs(thr(1)-10) > 1.5 || thr(2) > 17.5 || thr(3) > 17.5 || thr(2) < 10 || thr(3) <= 0 {
		t.Fatalf("throughputs %.2f %.2f %.2f %.2f\n%+v", thr(0), thr(1), thr(2), thr(3), res.Points[2])
	}
	if !res.Points[3].StoppedEarly || res.Points[0].StoppedEarly {
		t.Errorf("stopped early: %v %v (%s)", res.Points[0].StoppedEarly, res.Points[3].StoppedEarly, res.Points[3].StopReason)
	}
	// A point stopped early still reports the server's completion rate: the plateau.
	if thr(3) < 15 {
		t.Errorf("stopped point's throughput %.2f, want the plateau ≈ 16.7", thr(3))
	}
}

func TestVirtualClosedLoop(t *testing.T) {
	o := testOptions(t)
	o.NumRequests = 30
	p, err := RunVirtualPoint(context.Background(), &fifoServer{perToken: 10 * time.Millisecond}, o, PointSpec{Concurrency: 2})
	if err != nil || p.Completed != 30 || float64(p.MeanE2ELMs) < 110 || float64(p.MeanE2ELMs) > 120 {
		t.Fatalf("%v %+v", err, p)
	}
}
