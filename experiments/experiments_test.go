// Package experiments_test runs every published plan: in virtual time, twice, checking that the
// runs are byte-identical and that the report matches its golden file; the quickstart also killed
// and resumed, replayed with an edited analysis, and once on the wall-clock simulator.
package experiments_test

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	_ "starlab/builtins/all"
	"starlab/runtime"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.md from the runs")

func run(t *testing.T, opts runtime.Options) string {
	t.Helper()
	if opts.Out == "" && opts.Resume == "" {
		opts.Out = filepath.Join(t.TempDir(), "run")
	}
	opts.Seed = runtime.DefaultSeed
	opts.LogOut, opts.LogLevel, opts.PrintOut = io.Discard, zerolog.WarnLevel, io.Discard
	out, err := runtime.Execute(context.Background(), opts)
	if err != nil {
		t.Fatalf("%s: %v", opts.PlanPath, err)
	}
	if out.Err != nil {
		t.Fatalf("%s: %s", opts.PlanPath, runtime.FormatError(out.Err))
	}
	return out.Dir
}

// results are the files a run produces for its readers: everything but the logs, the journal
// and the manifest (which hold times).
func results(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch rel {
		case "manifest.json", "journal.jsonl", "run.log":
			return nil
		}
		data, _ := os.ReadFile(p)
		files[rel] = data
		return nil
	})
	return files
}

// virtualSets are the --set values a plan needs to run in virtual time: the twin plan's real
// server is an ollama model file by default, which only a calibration can simulate, so its
// preview measures the simulator of a vLLM server instead.
var virtualSets = map[string]map[string]string{
	"twin.star": {"engine": "vllm", "model": "Llama-3.1-8B", "gpu": "H100", "input_len": "512", "output_len": "128"},
}

func TestPlansInVirtualTime(t *testing.T) {
	plans, _ := filepath.Glob("*.star")
	bench, _ := filepath.Glob("bench/*.star")
	for _, plan := range append(plans, bench...) {
		if plan == "real_engine.star" || plan == "real_workloads.star" {
			continue // a real engine on a real model file: TestRealEngine, TestWorkloadsOnTheRealEngine
		}
		t.Run(plan, func(t *testing.T) {
			a := run(t, runtime.Options{PlanPath: plan, Virtual: true, Sets: virtualSets[plan]})
			b := run(t, runtime.Options{PlanPath: plan, Virtual: true, Sets: virtualSets[plan]})
			ra, rb := results(t, a), results(t, b)
			if len(ra) != len(rb) {
				t.Fatalf("the two runs wrote %d and %d files", len(ra), len(rb))
			}
			for name, data := range ra {
				if !bytes.Equal(data, rb[name]) {
					t.Errorf("%s differs between two runs with the same seed", name)
				}
			}
			golden := filepath.Join("testdata", "golden", strings.ReplaceAll(strings.TrimSuffix(plan, ".star"), "/", "_")+".md")
			if *update {
				if err := os.WriteFile(golden, ra["report.md"], 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./experiments -update writes it)", err)
			}
			if !bytes.Equal(want, ra["report.md"]) {
				t.Errorf("report.md differs from %s (go test ./experiments -update rewrites it); got:\n%s", golden, ra["report.md"])
			}
		})
	}
}

// A run killed halfway and resumed gives the report of an uninterrupted run.
func TestQuickstartKilledAndResumed(t *testing.T) {
	whole := run(t, runtime.Options{PlanPath: "quickstart.star", Virtual: true})
	journal, err := os.ReadFile(filepath.Join(whole, "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(journal), "\n")
	half := filepath.Join(t.TempDir(), "killed")
	os.MkdirAll(half, 0o755)
	manifest, _ := os.ReadFile(filepath.Join(whole, "manifest.json"))
	os.WriteFile(filepath.Join(half, "manifest.json"), manifest, 0o644)
	// What a SIGKILL leaves: the first half of the journal and a torn line.
	os.WriteFile(filepath.Join(half, "journal.jsonl"), []byte(strings.Join(lines[:len(lines)/2], "")+`{"seq":99,"key":"sw`), 0o644)

	resumed := run(t, runtime.Options{PlanPath: "quickstart.star", Resume: half})
	want, _ := os.ReadFile(filepath.Join(whole, "report.md"))
	got, _ := os.ReadFile(filepath.Join(resumed, "report.md"))
	if !bytes.Equal(want, got) {
		t.Errorf("the resumed report differs from the uninterrupted one:\n%s", got)
	}
}

// Replay with an edited analysis changes the analysis only.
func TestQuickstartReplayWithEditedAnalysis(t *testing.T) {
	whole := run(t, runtime.Options{PlanPath: "quickstart.star", Virtual: true})
	src, _ := os.ReadFile("quickstart.star")
	edited := strings.Replace(string(src), `expect(real.speedup, ">=", gpus - 1)`, `expect(real.speedup, ">=", gpus + 1)`, 1)
	if edited == string(src) {
		t.Fatal("the edit did not apply")
	}
	plan := filepath.Join(t.TempDir(), "quickstart.star")
	os.WriteFile(plan, []byte(edited), 0o644)
	replayed := run(t, runtime.Options{PlanPath: plan, Replay: whole})

	orig, again := results(t, whole), results(t, replayed)
	for name, data := range orig {
		if strings.HasPrefix(name, "sweeps/") && strings.HasSuffix(name, ".json") && !bytes.Equal(data, again[name]) {
			t.Errorf("replay changed the measurements in %s", name)
		}
	}
	a, b := sections(orig["report.md"]), sections(again["report.md"])
	for title, body := range a {
		switch title {
		case "## Run", "## Hypotheses":
			if title == "## Hypotheses" && body == b[title] {
				t.Error("the edited hypothesis did not change the verdicts")
			}
		default:
			if body != b[title] {
				t.Errorf("replay changed %q, which the edit did not touch", title)
			}
		}
	}
}

// sections splits a report at its "## " headings.
func sections(md []byte) map[string]string {
	out := map[string]string{}
	title := ""
	var body strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(md))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			out[title] = body.String()
			title = line
			body.Reset()
			continue
		}
		body.WriteString(line + "\n")
	}
	out[title] = body.String()
	return out
}

// The README's first command: the quickstart on the wall-clock simulator.
func TestQuickstartOnTheWallClock(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about two minutes")
	}
	dir := run(t, runtime.Options{PlanPath: "quickstart.star"})
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	if !bytes.Contains(md, []byte("| E-12 |")) || !bytes.Contains(md, []byte("### ramp-1gpu: knee at request_rate")) {
		t.Fatalf("report.md lacks the verdict or the knee:\n%s", md)
	}
	if !bytes.Contains(md, []byte("E-12 | the 1-vs-4 GPU test at 4.0 req/s never saturated 1 GPU | ✅ supported")) {
		t.Errorf("E-12 is not supported on the wall clock:\n%s", md)
	}
}
