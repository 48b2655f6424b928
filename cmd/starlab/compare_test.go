package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const comparePlan = `
seqs = param("max_num_seqs", 8)
s = start_vllm("Llama-3.1-8B", gpus = 1, backend = "sim", sim_gpu = "L40S", max_num_seqs = seqs, max_model_len = 2048)
d = dataset(input_len = 64, output_len = 16)
sweep(s, rates = [2, 8], duration = "3s", warmup = "1s", dataset = d, arrival = "constant", name = "ramp")
`

// Two --virtual runs of one plan that differ in a --set, compared: the difference heads
// compare.md, and both runs, named alike, get columns of their own.
func TestCompareTwoVirtualRuns(t *testing.T) {
	tmp := t.TempDir()
	plan := writeFile(t, tmp, "tiny.star", comparePlan)
	a, b := filepath.Join(tmp, "x", "run"), filepath.Join(tmp, "y", "run")
	for dir, set := range map[string]string{a: "max_num_seqs=8", b: "max_num_seqs=2"} {
		if code, _, stderr := runCLI("run", plan, "--virtual", "--quiet", "--set", set, "--out", dir); code != 0 {
			t.Fatalf("run %s: exit %d: %s", set, code, stderr)
		}
	}
	out := filepath.Join(tmp, "cmp")
	code, stdout, stderr := runCLI("compare", a, b, "--out", out, "--metric", "request_throughput,p99_ttft_ms")
	if code != 0 || strings.TrimSpace(stdout) != filepath.Join(out, "compare.md") {
		t.Fatalf("compare: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	md, err := os.ReadFile(filepath.Join(out, "compare.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(md)
	diffs := text[strings.Index(text, "## Differences"):strings.Index(text, "## Sweeps")]
	for _, want := range []string{"| field | x/run | y/run |", "| param max_num_seqs | 8 | 2 |", "| server Llama-3.1-8B-1gpu: max_num_seqs | 8 | 2 |"} {
		if !strings.Contains(diffs, want) {
			t.Errorf("the differences lack %q:\n%s", want, diffs)
		}
	}
	if strings.Contains(diffs, "| seed |") {
		t.Errorf("the seed is the same in both runs, yet listed as a difference:\n%s", diffs)
	}
	for _, want := range []string{"#### ramp: request_throughput", "#### ramp: p99_ttft_ms", "| 2 req/s |", "y/run / x/run"} {
		if !strings.Contains(text, want) {
			t.Errorf("compare.md lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "median_ttft_ms") {
		t.Errorf("compare.md shows a metric --metric did not ask for:\n%s", text)
	}
	for _, f := range []string{"compare.json", "compare.csv", "plots/ramp_request_throughput.png", "plots/ramp_request_throughput.svg", "plots/ramp_p99_ttft_ms.png"} {
		if info, err := os.Stat(filepath.Join(out, f)); err != nil || info.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}

	// Comparing again into the same directory would mix two comparisons.
	code, _, stderr = runCLI("compare", a, b, "--out", out)
	if code != 1 || !strings.Contains(stderr, out) || !strings.Contains(stderr, "not empty") {
		t.Errorf("compare into a non-empty --out: exit %d, stderr %q; want 1 and the path named", code, stderr)
	}

	// Without --out: compare-<UTC time> in the current directory.
	t.Chdir(t.TempDir())
	if code, stdout, stderr := runCLI("compare", a, b); code != 0 || !strings.HasPrefix(stdout, "compare-") {
		t.Errorf("compare without --out: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	} else if _, err := os.Stat(strings.TrimSpace(stdout)); err != nil {
		t.Error(err)
	}
}

func TestCompareUsageErrors(t *testing.T) {
	tmp := t.TempDir()
	notRun := filepath.Join(tmp, "plots")
	if err := os.Mkdir(notRun, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"compare"}, 2, []string{"at least two run directories, got 0"}},
		{[]string{"compare", notRun}, 2, []string{"at least two run directories, got 1"}},
		{[]string{"compare", notRun, notRun}, 1, []string{notRun, "is not a run directory"}},
		{[]string{"compare", notRun, notRun, "--metric", "tput"}, 2, []string{`--metric "tput"`, "request_throughput", "mean_tpot_ms"}},
	} {
		code, _, stderr := runCLI(tc.args...)
		if code != tc.code {
			t.Errorf("starlab %v: exit %d, want %d: %s", tc.args, code, tc.code, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("starlab %v: stderr lacks %q: %s", tc.args, w, stderr)
			}
		}
	}
}
