package traces

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// BenchmarkReadMillionRows streams a 1,000,000-row trace in the plain jsonl and the Azure formats
// (files of about 60 and 45 MB, written once before timing) and reports the rate and the peak growth
// of the heap while reading. The growth stays at the garbage collector's few-MiB floor whatever the
// number of rows: nothing is kept per row. Measured on the 2-core development machine (AMD EPYC) with
// `go test -run '^$' -bench ReadMillionRows -benchtime=1x ./builtins/sweep/traces/`, two runs:
//
//	jsonl: 0.59-0.61 M rows/s (1.6-1.7 s), heap growth 3.7-3.9 MiB, 486 B and 8.2 short-lived allocs per row
//	azure: 1.6-1.9 M rows/s (0.53-0.61 s), heap growth 3.5-3.6 MiB, 127 B and 3 short-lived allocs per row
func BenchmarkReadMillionRows(b *testing.B) {
	const n = 1_000_000
	dir := b.TempDir()
	plainPath, azurePath := filepath.Join(dir, "million.jsonl"), filepath.Join(dir, "million.csv")
	writeTrace(b, plainPath, "", func(w *bufio.Writer, i int) {
		if i%10 == 0 {
			fmt.Fprintf(w, "{\"t\": %.3f, \"prompt\": \"tell me about request %d please\", \"output_len\": %d, \"session\": %d}\n", float64(i)*0.01, i, 50+i%200, i%997)
			return
		}
		fmt.Fprintf(w, "{\"t\": %.3f, \"input_len\": %d, \"output_len\": %d, \"session\": \"s%d\"}\n", float64(i)*0.01, 100+i%3000, 1+i%500, i%997)
	})
	start := time.Date(2023, 11, 16, 18, 15, 46, 0, time.UTC)
	writeTrace(b, azurePath, "TIMESTAMP,ContextTokens,GeneratedTokens\n", func(w *bufio.Writer, i int) {
		at := start.Add(time.Duration(i) * 7_123_400 * time.Nanosecond)
		fmt.Fprintf(w, "%s,%d,%d\n", at.Format("2006-01-02 15:04:05.0000000"), 20+i%4000, 1+i%600)
	})
	for _, c := range []struct{ name, path, format string }{{"jsonl", plainPath, "jsonl"}, {"azure", azurePath, "azure"}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			base, peak := ms.HeapAlloc, ms.HeapAlloc
			rows := 0
			b.ResetTimer()
			for range b.N {
				r, err := Open(c.path, c.format)
				if err != nil {
					b.Fatal(err)
				}
				for {
					_, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					if rows++; rows%(1<<16) == 0 {
						runtime.ReadMemStats(&ms)
						peak = max(peak, ms.HeapAlloc)
					}
				}
				r.Close()
			}
			b.StopTimer()
			if rows != n*b.N {
				b.Fatalf("read %d rows, want %d", rows, n*b.N)
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(peak-base)/(1<<20), "heap-MiB")
		})
	}
}

func writeTrace(b *testing.B, path, header string, row func(w *bufio.Writer, i int)) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(header)
	for i := range 1_000_000 {
		row(w, i)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}
