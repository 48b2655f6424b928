package sweep_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"

	"starlab/builtins/sweep"
	"starlab/runtime"
	"starlab/runtime/runtimetest"
)

const repeatsScript = "testdata/scripts/repeats_virtual.star"

// measured is one (load, repeat) of sweep "rep", in the order its requests were written.
type measured struct{ point, repeat int }

// repeatVisits lists the (load, repeat) pairs of the requests file in the order they ran.
func repeatVisits(t *testing.T, path string) []measured {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []measured
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l sweep.RequestLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if m := (measured{l.Point, l.Repeat}); len(out) == 0 || out[len(out)-1] != m {
			out = append(out, m)
		}
	}
	return out
}

// The repeats run in rounds, each visiting every load once in a seeded order, every repeat's
// requests are kept, and the files are the same on every run.
func TestRepeatsInterleavedAndDeterministic(t *testing.T) {
	a := runtimetest.RunScript(t, repeatsScript, runtimetest.Options{})
	visits := repeatVisits(t, filepath.Join(a, "sweeps", "rep.requests.jsonl"))
	if len(visits) != 9 {
		t.Fatalf("the requests file holds %d measurements, want 9: %v", len(visits), visits)
	}
	inOrder := true // every round in the loads' own order: no permutation at all
	for k := range 3 {
		var loads []int
		for _, v := range visits[3*k : 3*k+3] {
			if v.repeat != k {
				t.Fatalf("round %d holds %v: %v", k, v, visits)
			}
			loads = append(loads, v.point)
		}
		if !slices.Equal(slices.Sorted(slices.Values(loads)), []int{0, 1, 2}) {
			t.Fatalf("round %d visits loads %v", k, loads)
		}
		inOrder = inOrder && slices.IsSorted(loads)
	}
	if inOrder {
		t.Fatalf("the rounds are not permuted: %v", visits)
	}
	b := runtimetest.RunScript(t, repeatsScript, runtimetest.Options{})
	for _, f := range []string{"rep.json", "rep.requests.jsonl"} {
		x, _ := os.ReadFile(filepath.Join(a, "sweeps", f))
		y, _ := os.ReadFile(filepath.Join(b, "sweeps", f))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("sweeps/%s differs between two runs of the same seed", f)
		}
	}
}

var repeatStep = regexp.MustCompile(`repeat=(\d+), point=(\d+):`)

// A run killed halfway through the repeats and resumed measures only the repeats its journal
// lacks, and ends with the points of an uninterrupted run.
func TestRepeatsResumeSkipsMeasuredRepeats(t *testing.T) {
	whole := runtimetest.RunScript(t, repeatsScript, runtimetest.Options{})
	journal, err := os.ReadFile(filepath.Join(whole, "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	// Keep the server and the first four repeats of "rep": what a kill in its fifth leaves.
	var kept []string
	done := map[measured]bool{}
	for _, line := range strings.SplitAfter(string(journal), "\n") {
		var e runtime.JournalEntry
		if json.Unmarshal([]byte(line), &e) != nil {
			continue
		}
		if m := repeatStep.FindStringSubmatch(e.Key); m != nil {
			if len(done) == 4 {
				break
			}
			var v measured
			fmt.Sscan(m[2], &v.point)
			fmt.Sscan(m[1], &v.repeat)
			done[v] = true
		}
		kept = append(kept, line)
	}
	if len(done) != 4 {
		t.Fatalf("the journal has no repeat steps: %.500s", journal)
	}
	half := filepath.Join(t.TempDir(), "killed")
	os.MkdirAll(half, 0o755)
	manifest, _ := os.ReadFile(filepath.Join(whole, "manifest.json"))
	os.WriteFile(filepath.Join(half, "manifest.json"), manifest, 0o644)
	os.WriteFile(filepath.Join(half, "journal.jsonl"), []byte(strings.Join(kept, "")), 0o644)

	resumed := resume(t, repeatsScript, half)
	again := repeatVisits(t, filepath.Join(resumed, "sweeps", "rep.requests.jsonl"))
	if len(again) != 9-len(done) {
		t.Errorf("the resumed run measured %v, want the %d repeats not in %v", again, 9-len(done), done)
	}
	for _, v := range again {
		if done[v] {
			t.Errorf("repeat %d of point %d was measured again", v.repeat, v.point)
		}
	}
	want, _ := os.ReadFile(filepath.Join(whole, "sweeps", "rep.json"))
	got, _ := os.ReadFile(filepath.Join(resumed, "sweeps", "rep.json"))
	if !bytes.Equal(want, got) {
		t.Errorf("the resumed sweep's points differ from the uninterrupted run's")
	}
}

// resume continues the run in dir with the script, as runtimetest.RunScript runs a fresh one.
func resume(t *testing.T, file, dir string) string {
	t.Helper()
	mod, err := starlarktest.LoadAssertModule()
	if err != nil {
		t.Fatal(err)
	}
	out, err := runtime.Execute(context.Background(), runtime.Options{
		PlanPath: file, Resume: dir, Seed: runtime.DefaultSeed, Virtual: true,
		LogOut: zerolog.NewTestWriter(t), LogLevel: zerolog.InfoLevel, Extra: mod,
		Hooks: []func(*runtime.Run){func(r *runtime.Run) {
			r.OnThread(func(th *starlark.Thread) { starlarktest.SetReporter(th, t) })
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Err != nil {
		t.Fatalf("%s", runtime.FormatError(out.Err))
	}
	return out.Dir
}

// repeats=1 is the sweep without repeats: the same step keys and the same files, so plans
// written before repeats existed resume and replay as they did.
func TestRepeatsOneIsNoRepeats(t *testing.T) {
	const plan = `s = start_vllm("Llama-3.1-8B", sim_gpu = "L40S", max_model_len = 4096)
r = sweep(s, rates = [2, 4], duration = "10s", name = "x"%s)
`
	dirs := map[string]string{}
	for _, extra := range []string{"", ", repeats = 1"} {
		file := filepath.Join(t.TempDir(), "plan.star")
		if err := os.WriteFile(file, []byte(fmt.Sprintf(plan, extra)), 0o644); err != nil {
			t.Fatal(err)
		}
		dirs[extra] = runtimetest.RunScript(t, file, runtimetest.Options{})
	}
	keys := func(dir string) []string {
		data, _ := os.ReadFile(filepath.Join(dir, "journal.jsonl"))
		var out []string
		for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			var e runtime.JournalEntry
			if err := json.Unmarshal(line, &e); err != nil {
				t.Fatal(err)
			}
			out = append(out, e.Key)
		}
		return out
	}
	if a, b := keys(dirs[""]), keys(dirs[", repeats = 1"]); !slices.Equal(a, b) || strings.Contains(strings.Join(a, ""), "repeat") {
		t.Errorf("step keys differ:\n%q\n%q", a, b)
	}
	for _, f := range []string{"x.json", "x.requests.jsonl"} {
		a, _ := os.ReadFile(filepath.Join(dirs[""], "sweeps", f))
		b, _ := os.ReadFile(filepath.Join(dirs[", repeats = 1"], "sweeps", f))
		if len(a) == 0 || !bytes.Equal(a, b) || (f != "x.json" && bytes.Contains(a, []byte(`"repeat":`))) {
			t.Errorf("sweeps/%s differs with repeats = 1", f)
		}
	}
}
