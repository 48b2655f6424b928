package sweep

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"starlab/builtins/sim"
	"starlab/builtins/virtual"
)

// simServer is the simulator of a vLLM server with 32 batch slots, in virtual time.
func simServer(t *testing.T) virtual.Server {
	t.Helper()
	args, err := sim.ParseServeArgs(strings.Fields("serve Llama-3.1-8B --sim-gpu L40S --max-num-seqs 32 --max-model-len 4096"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sim.NewVirtual(args.Config, 1)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// A point whose queue grows through its window is flagged; one well below capacity is not. The
// FIFO server's capacity is 16.7 requests/s; the simulator's, with 256-in/32-out requests, is about
// 31 requests/s in an open loop.
func TestSteadyState(t *testing.T) {
	tests := []struct {
		name   string
		server func(t *testing.T) virtual.Server
		in     int
		out    int
		spec   PointSpec
		window time.Duration
		ok     bool
		detail string // a substring of Detail
	}{
		{"fifo at 30%", fifo, 8, 6, PointSpec{Rate: 5}, 120 * time.Second, true, ""},
		{"fifo at 150%", fifo, 8, 6, PointSpec{Rate: 25}, 120 * time.Second, false, "median TTFT rose from"},
		{"fifo closed loop", fifo, 8, 6, PointSpec{Concurrency: 4}, 60 * time.Second, true, ""},
		{"sim at 30%", simServer, 256, 32, PointSpec{Rate: 9}, 60 * time.Second, true, ""},
		{"sim at 150%", simServer, 256, 32, PointSpec{Rate: 46}, 60 * time.Second, false, "the queue kept growing"},
		{"sim closed loop", simServer, 256, 32, PointSpec{Concurrency: 64}, 60 * time.Second, true, ""},
		{"too short", fifo, 8, 6, PointSpec{Rate: 5}, 3 * time.Second, true, "too few requests to check"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := NewRandom(RandomSpec{InputLen: tc.in, OutputLen: tc.out, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			o := testOptions(t)
			o.Dataset, o.Duration, o.Warmup, o.Timeout, o.Grace = ds, tc.window, 5*time.Second, time.Hour, time.Second
			p, err := RunVirtualPoint(context.Background(), tc.server(t), o, tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			s := p.SteadyState
			if s == nil {
				t.Fatal("no steady-state check")
			}
			t.Logf("%+v", *s)
			if s.OK != tc.ok || !strings.Contains(s.Detail, tc.detail) {
				t.Errorf("steady state %+v, want ok=%v with %q", *s, tc.ok, tc.detail)
			}
			if tc.detail != "too few requests to check" && (s.ThroughputHalves[0] <= 0 || s.MedianTTFTHalves[1] <= 0) {
				t.Errorf("halves not filled: %+v", *s)
			}
		})
	}
}

func fifo(*testing.T) virtual.Server { return &fifoServer{perToken: 10 * time.Millisecond} }

// The running series drives the third test: a server whose running requests double while
// completions and TTFT stay put is flagged, and the halves' means are reported.
func TestSteadyStateRunningGrowth(t *testing.T) {
	for _, tc := range []struct {
		name   string
		second float64 // running requests in the second half (4 in the first)
		ok     bool
	}{
		{"flat", 4, true},
		{"slight", 5.5, true},
		{"doubled", 8, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAggregator(0, nil)
			for i := range 200 {
				at := time.Duration(i) * 100 * time.Millisecond // 20 s at 10 requests/s
				a.Add(&RequestRecord{Index: i, Intended: at, Sent: at, First: at + 50*time.Millisecond,
					Last: at + 90*time.Millisecond, Done: at + 90*time.Millisecond, ChunkCount: 2, OutputTokens: 2, UsageReported: true})
			}
			for s := range 20 {
				n := 4.0
				if s >= 10 {
					n = tc.second
				}
				a.NoteRunning(time.Duration(s)*time.Second+500*time.Millisecond, n)
			}
			var p Point
			p.RequestRate = 10
			a.Finalize(&p, 20*time.Second, 0)
			st := p.SteadyState
			if st.OK != tc.ok || st.RunningHalves != [2]Float{4, Float(tc.second)} {
				t.Errorf("%+v", *st)
			}
			if !tc.ok && !strings.Contains(st.Detail, "running requests rose from 4 to 8") {
				t.Errorf("detail %q", st.Detail)
			}
		})
	}
}

// Throughput halves: a closed loop whose completions halve drifted; an open loop whose sends
// halved too just delivered what it was sent.
func TestSteadyStateThroughput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rate   Float // request_rate: +Inf for a closed loop
		ok     bool
		detail string
	}{
		{"closed loop slows down", Float(math.Inf(1)), false, "throughput fell from 20 to 10 req/s"},
		{"open loop sent less", 15, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAggregator(0, nil)
			// 20 requests/s for 10 s, then 10 requests/s for 10 s; each takes 20 ms.
			var at time.Duration
			for i := 0; at < 20*time.Second; i++ {
				a.Add(&RequestRecord{Index: i, Intended: at, Sent: at, First: at + 10*time.Millisecond,
					Last: at + 20*time.Millisecond, Done: at + 20*time.Millisecond, ChunkCount: 2, OutputTokens: 2, UsageReported: true})
				if at < 10*time.Second {
					at += 50 * time.Millisecond
				} else {
					at += 100 * time.Millisecond
				}
			}
			var p Point
			p.RequestRate = tc.rate
			a.Finalize(&p, 20*time.Second, 0)
			st := p.SteadyState
			if st.OK != tc.ok || !strings.Contains(st.Detail, tc.detail) {
				t.Errorf("%+v, want ok=%v with %q", *st, tc.ok, tc.detail)
			}
		})
	}
}
