package results

// FuzzLoad: other tools' result files (vLLM bench, GuideLLM, AIPerf), whatever they hold.
// scripts/fuzz.sh runs it.

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// FuzzLoad: any file loads or fails with an error that names it as the user gave it (and the
// line, for JSON that does not parse); what loads can be written to the run (points and
// sources as JSON) and every point has exactly one source.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	rates, _ := filepath.Glob(filepath.Join("testdata", "vllm", "rates", "*.json"))
	for _, p := range append(seeds, rates[:min(1, len(rates))]...) {
		if strings.Contains(p, "golden") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	if len(seeds) < 5 {
		f.Fatalf("only %d seed files in testdata", len(seeds))
	}
	f.Add([]byte(`{"completed": 3, "request_throughput": NaN, "request_rate": Infinity, "max_concurrency": null}` + "\n" +
		`{"completed": 1, "request_throughput": -Infinity}`))
	f.Add([]byte(`[{"completed": 3, "request_throughput": 1.5, "mean_ttft_ms": "NaN"}]`))
	path := filepath.Join(f.TempDir(), "result.json")
	const shown = "plans/../result.json"
	lineErr := regexp.MustCompile(`^` + regexp.QuoteMeta(shown) + `:(\d+): `)
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := Load(path, shown)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, shown+":") {
				t.Fatalf("error does not name the file: %q", msg)
			}
			if m := lineErr.FindStringSubmatch(msg); m != nil {
				n, _ := strconv.Atoi(m[1])
				if lines := bytes.Count(data, []byte("\n")) + 1; n < 1 || n > lines {
					t.Fatalf("line %d of a file of %d lines: %q", n, lines, msg)
				}
			} else if strings.Contains(msg, "invalid JSON") {
				t.Fatalf("invalid JSON without a line: %q", msg)
			}
			return
		}
		if len(l.Points) == 0 || len(l.Sources) != 1 || l.Sources[0].Path != shown {
			t.Fatalf("%d points, sources %+v", len(l.Points), l.Sources)
		}
		if len(l.Sources[0].Points) != len(l.Points) {
			t.Fatalf("%d points, the source gives %v", len(l.Points), l.Sources[0].Points)
		}
		for i, p := range l.Sources[0].Points {
			if p != i {
				t.Fatalf("source points %v", l.Sources[0].Points)
			}
		}
		if _, err := json.Marshal(l.Points); err != nil {
			t.Fatalf("points do not encode: %v", err)
		}
		if _, err := json.Marshal(SourcesFile{Name: l.Name, Path: shown, Sources: l.Sources}); err != nil {
			t.Fatalf("sources do not encode: %v", err)
		}
	})
}
