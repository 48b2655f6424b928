package sweep

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func testOptions(t testing.TB) Options {
	ds, _ := NewRandom(RandomSpec{InputLen: 8, OutputLen: 6, Seed: 1})
	return Options{Dataset: ds, Seed: 1, Key: t.Name(), Progress: ProgressOptions{Disable: true},
		Logger: zerolog.Nop(), Timeout: 2 * time.Second, Grace: time.Second}
}

func TestRunPointHTTP(t *testing.T) {
	tests := []struct {
		name     string
		srv      *fakeServer
		endpoint Endpoint
		wantErr  string
	}{
		{"ok", &fakeServer{TokenDelay: time.Millisecond}, EndpointCompletions, ""},
		{"chat", &fakeServer{}, EndpointChat, ""},
		{"no usage", &fakeServer{NoUsage: true}, EndpointCompletions, ""},
		{"http 503", &fakeServer{Status: 503}, EndpointCompletions, "http_503"},
		{"stall", &fakeServer{StallAfter: 2}, EndpointCompletions, "timeout"},
		{"cut", &fakeServer{CutAfter: 2}, EndpointCompletions, "connection_closed"},
		{"server error", &fakeServer{ErrorAfter: 2}, EndpointCompletions, "server_error: engine dead"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.srv
			s := f.start(t)
			o := testOptions(t)
			o.NumRequests, o.Timeout = 20, 300*time.Millisecond
			p, err := RunPoint(context.Background(), Target{URL: s.URL, Model: "m", Endpoint: tc.endpoint, Series: everyEngine}, o, PointSpec{Rate: 200})
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantErr == "" {
				if p.Completed != 20 || p.Failed != 0 || p.TotalOutputTokens != 120 || math.IsNaN(float64(p.MedianITLMs)) {
					t.Fatalf("point %+v", p)
				}
				if f.NoUsage != (p.OutputTokensFromChunks == 20) {
					t.Errorf("chunk fallback flag %d", p.OutputTokensFromChunks)
				}
				if f.sawIgnore.Load() != 20 || f.sawMinToks.Load() != 20 {
					t.Errorf("ignore_eos/min_tokens not injected: %d %d", f.sawIgnore.Load(), f.sawMinToks.Load())
				}
				if p.ServerMetrics == nil || p.ServerMetrics.Samples == 0 || p.ServerMetrics.MaxKVCacheUsage != 0.25 {
					t.Errorf("server metrics %+v", p.ServerMetrics)
				}
				return
			}
			if p.Failed != 20 || p.Errors[tc.wantErr] != 20 {
				t.Fatalf("errors %v failed %d completed %d", p.Errors, p.Failed, p.Completed)
			}
		})
	}
}

// TestServerKilledMidSweep: the server dies during the first point; failures are counted and the
// sweep carries on to the next point.
func TestServerKilledMidSweep(t *testing.T) {
	f := &fakeServer{TokenDelay: 2 * time.Millisecond}
	s := f.start(t)
	go func() { time.Sleep(300 * time.Millisecond); s.CloseClientConnections(); s.Close() }()
	o := testOptions(t)
	o.Duration = 600 * time.Millisecond
	w, err := NewWriter(t.TempDir(), "killed")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	res, err := Run(context.Background(), Target{URL: s.URL, Model: "m"}, Config{Name: "killed", Rates: []float64{50, 50}, Options: o, Writer: w})
	if err != nil || len(res.Points) != 2 {
		t.Fatalf("%v %d", err, len(res.Points))
	}
	p0, p1 := res.Points[0], res.Points[1]
	if p0.Completed == 0 || p0.Failed == 0 || p1.Completed != 0 || p1.Errors["connection_refused"] == 0 {
		t.Fatalf("p0 %d ok %v; p1 %d ok %v", p0.Completed, p0.Errors, p1.Completed, p1.Errors)
	}
	if p1.ServerMetrics.ScrapeErrors == 0 {
		t.Error("scrape errors not counted")
	}
}

func TestCancelStopsWithinASecond(t *testing.T) {
	f := &fakeServer{StallAfter: 1}
	s := f.start(t)
	o := testOptions(t)
	o.Duration, o.Timeout, o.Grace = time.Minute, time.Minute, time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	p, err := RunPoint(ctx, Target{URL: s.URL, Model: "m"}, o, PointSpec{Concurrency: 4})
	if err == nil || time.Since(start) > 1300*time.Millisecond || !p.StoppedEarly || p.Incomplete == 0 {
		t.Fatalf("err %v after %v, point %+v", err, time.Since(start), p)
	}
}

func TestClosedLoopAndBottleneck(t *testing.T) {
	f := &fakeServer{TokenDelay: 5 * time.Millisecond}
	s := f.start(t)
	o := testOptions(t)
	o.NumRequests = 12
	p, err := RunPoint(context.Background(), Target{URL: s.URL, Model: "m"}, o, PointSpec{Concurrency: 3})
	if err != nil || p.Completed != 12 || !math.IsInf(float64(p.RequestRate), 1) || p.MaxConcurrency != 3 {
		t.Fatalf("%v %+v", err, p)
	}
	// max_concurrency 1 with 30 ms requests at 100/s: sends wait for the slot → bottleneck.
	o.NumRequests, o.MaxConcurrency = 10, 1
	p, err = RunPoint(context.Background(), Target{URL: s.URL, Model: "m"}, o, PointSpec{Rate: 100})
	if err != nil || !p.Client.Bottleneck || p.Client.SendLagP99Ms < 10 {
		t.Fatalf("%v %+v", err, p.Client)
	}
	o.OnFull = FullDrop
	p, _ = RunPoint(context.Background(), Target{URL: s.URL, Model: "m"}, o, PointSpec{Rate: 100})
	if p.Client.Dropped == 0 || !p.Client.Bottleneck {
		t.Fatalf("%+v", p.Client)
	}
}
