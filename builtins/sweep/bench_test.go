package sweep

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// With STARLAB_FAKE_SERVER=1 the test binary serves the fake streaming server on a loopback port
// (printed on stdout) until killed, so benchmarks measure the client's CPU alone.
func TestMain(m *testing.M) {
	if os.Getenv("STARLAB_FAKE_SERVER") == "1" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		fmt.Printf("http://%s\n", l.Addr())
		mux := http.NewServeMux()
		f := &fakeServer{}
		mux.HandleFunc("/v1/completions", f.complete)
		http.Serve(l, mux)
		return
	}
	os.Exit(m.Run())
}

// fakeServerProcess starts the fake server in a child process and returns its URL.
func fakeServerProcess(b *testing.B) string {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "STARLAB_FAKE_SERVER=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	url, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	return strings.TrimSpace(url)
}

// BenchmarkOpenLoop streams 64-token completions from a fake server in another process (so the
// CPU figures are the load generator's own) at rising rates for 3 s each. A rate passes when the
// achieved send rate is within 1% of the schedule's, the p99 send lag is under 2 ms and nothing
// failed; the benchmark reports, per rate, those figures and the client's CPU time per request.
//
// Measured on the 2-core development machine (go1.26), four runs; the fake server shares the two
// cores, which is where most of the send-lag tail comes from:
//
//	rate   achieved/scheduled  lag p99        client CPU/request  meets the targets
//	1000   ≥ 0.9997            1.27–2.03 ms   600–685 µs          3 runs of 4
//	1500   ≥ 0.9998            2.10–3.05 ms   480–580 µs          no (lag)
//	2000   ≥ 0.9997            2.96–5.27 ms   445–470 µs          no (lag)
//	3000   ≥ 0.9978            19–112 ms      330–360 µs          no
//
// So about 1,000 requests/s is the highest rate that meets them here, at about 60% of a core for
// the client (mostly one read syscall and one JSON decode per streamed token). The achieved rate
// holds even where the lag tail does not: sends follow the absolute schedule, and latencies are
// measured from the intended send time, so a late send is visible as lag, never as drift.
// Run: go test -run XXX -bench OpenLoop -benchtime 1x ./builtins/sweep
func BenchmarkOpenLoop(b *testing.B) {
	url := fakeServerProcess(b)
	ds, _ := NewRandom(RandomSpec{InputLen: 16, OutputLen: 64, Seed: 1})
	for _, rate := range []float64{1000, 1500, 2000, 3000} {
		b.Run(fmt.Sprintf("rate=%g", rate), func(b *testing.B) {
			o := Options{Dataset: ds, Seed: 1, Key: "bench", Duration: 3 * time.Second, Warmup: 500 * time.Millisecond,
				Progress: ProgressOptions{Disable: true}, Timeout: 10 * time.Second, Grace: 5 * time.Second}
			for i := 0; i < b.N; i++ {
				var u0, u1 syscall.Rusage
				syscall.Getrusage(syscall.RUSAGE_SELF, &u0)
				p, err := RunPoint(context.Background(), Target{URL: url, Model: "m", MetricsURL: "-"}, o, PointSpec{Rate: rate})
				syscall.Getrusage(syscall.RUSAGE_SELF, &u1)
				if err != nil {
					b.Fatal(err)
				}
				cpu := time.Duration(u1.Utime.Nano() + u1.Stime.Nano() - u0.Utime.Nano() - u0.Stime.Nano())
				ratio := float64(p.Client.AchievedSendRate) / float64(p.Client.ScheduledSendRate)
				pass := ratio >= 0.99 && float64(p.Client.SendLagP99Ms) < 2 && p.Failed == 0
				b.ReportMetric(ratio, "achieved/scheduled")
				b.ReportMetric(float64(p.Client.SendLagP99Ms), "lag_p99_ms")
				b.ReportMetric(float64(cpu.Microseconds())/float64(p.Client.Sent), "client_cpu_us/req")
				b.ReportMetric(float64(p.Failed), "failed")
				b.Logf("rate %g: pass=%v completed=%d bottleneck=%v %s", rate, pass, p.Completed, p.Client.Bottleneck, p.Client.BottleneckReason)
			}
		})
	}
}

// BenchmarkAggregateMillion folds one million finished requests of 64 streamed tokens each (a
// 10,000 s point at 100 requests/s) into one point and reports the heap the aggregator keeps per
// request. Chunk times are released as each request is folded in and ITL goes to a fixed-size
// histogram, so what stays is a few numbers per request (TTFT, TPOT, E2EL, send lag, departure)
// and the point's token timeline, not 64 million inter-token gaps.
//
// Measured: 70 bytes per request kept, 70 MB for the million (their 64 inter-token gaps as
// float64 would be 512 MB more); 3.2 s for the million, building the records included.
// Run: go test -run XXX -bench AggregateMillion -benchtime 1x ./builtins/sweep
func BenchmarkAggregateMillion(b *testing.B) {
	const n, tokens = 1_000_000, 64
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		a := NewAggregator(0, nil)
		for r := 0; r < n; r++ {
			at := time.Duration(r) * 10 * time.Millisecond
			chunks := make([]time.Duration, tokens)
			for c := range chunks {
				chunks[c] = at + time.Duration(50+c*10)*time.Millisecond
			}
			a.Add(&Record{Index: r, Intended: at, Sent: at, First: chunks[0], Last: chunks[tokens-1], Done: chunks[tokens-1],
				Chunks: chunks, ChunkCount: tokens, InputTokens: 128, OutputTokens: tokens, UsageReported: true})
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		var p Point
		a.Finalize(&p, time.Duration(n)*10*time.Millisecond, 0)
		if p.Completed != n {
			b.Fatalf("completed %d", p.Completed)
		}
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/n, "heap_bytes/request")
		runtime.KeepAlive(a)
	}
}
