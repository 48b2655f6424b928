package results

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"sync"

	"go.starlark.net/starlark"

	"starlab/builtins/sweep"
	"starlab/runtime"
	"starlab/runtime/atomicfile"
	"starlab/runtime/paramerr"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name:      "load_results",
		Signature: `load_results(path, name=None)`,
		Doc: `Reads other tools' benchmark results as a SweepResult (.name .points .server=None).

path (relative to the plan's directory) is a file or a directory. The format is told from the
content: "vllm bench serve --save-result" JSON (one point per file; also files written with
--append-result, and older versions' files: request_rate "inf", max_concurrency null,
request_goodput null, no failed or max_output_tokens_per_s, percentiles such as p99.9_itl_ms,
of which p90 and p99 are kept); GuideLLM's benchmarks JSON (one point per benchmark: its strategy
is the load, its successful requests' distributions the latencies); AIPerf's
profile_export_aiperf.json (one point; inter_token_latency is vLLM's TPOT, inter_chunk_latency
its ITL). A directory loads every .json in it and one level down as one sweep, as "vllm bench
sweep" writes them (run=N.json; summary.json, warmup.json and *.failure.json are skipped). Points
are sorted by load (request_rate, then max_concurrency) and carry vLLM bench's field names, null
for any figure the file does not give, engine from the file's backend ("external" when it does not
say), server a label of the source, and the consistency checks (Little's law, tokens, offered
load) measured points get.

find_knee, amdahl, compare and report take the result as they take a sweep's: its points go to
sweeps/<name>.json, and sources/<name>.json (and the manifest's loaded_results) say which file,
format and tool each came from. name defaults to the file's or directory's base name; it must not
be a sweep of the run. A file that is not valid JSON is an error naming the file and line; one of
an unknown format names the formats tried.`,
		Fn: loadResults,
	})
}

// SourcesFile is the record of where a loaded sweep's points came from, at sources/<name>.json of
// the run directory (not under sweeps/, where every .json is a sweep's points).
type SourcesFile struct {
	Name    string   `json:"name"`
	Path    string   `json:"path"` // as the plan gave it
	Sources []Source `json:"sources"`
}

func loadResults(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var path string
	var name runtime.Opt[string]
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "path", &path, "name?", &name); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, paramerr.New("path", "want a file or directory of results, got \"\"")
	}
	if name.Set {
		if err := runtime.CheckFileName(name.V); err != nil {
			return nil, paramerr.Wrap("name", err)
		}
	}
	abs := path
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(filepath.Dir(runtime.CallerFile(thread)), path)
	}
	l, err := Load(abs, path)
	if err != nil {
		return nil, paramerr.Wrap("path", err)
	}
	r := runtime.FromThread(thread)
	l.Name, err = sweep.ClaimLoadedName(r, name.Or(runtime.SafeFileName(l.Name)), name.Set)
	if err != nil {
		return nil, paramerr.Wrap("name", err)
	}
	if err := record(r, path, l); err != nil {
		return nil, err
	}
	failed := 0
	for _, p := range l.Points {
		for _, c := range p.Checks {
			if !c.OK {
				failed++
			}
		}
	}
	ev := r.Log.Info()
	if failed > 0 {
		ev = r.Log.Warn().Int("failed_checks", failed)
	}
	ev.Str("sweep", l.Name).Str("path", path).Int("points", len(l.Points)).Int("files", len(l.Sources)).Msg("load_results: loaded")
	return sweep.LoadedResultValue(l.Name, l.Points), nil
}

// loadedKey keeps the run's loaded sweeps for the manifest.
type loadedKey struct{}

type loadedSet struct {
	mu     sync.Mutex
	byName map[string]SourcesFile
}

// record writes the points where the report finds sweeps, the sources beside them, and the
// manifest's loaded_results (by name, sorted), so that a comparison of runs sees the inputs differ.
func record(r *runtime.Run, path string, l *Loaded) error {
	pts, err := r.Path(filepath.Join("sweeps", l.Name+".json"))
	if err != nil {
		return err
	}
	if err := sweep.WritePointsFile(pts, l.Points); err != nil {
		return err
	}
	sf := SourcesFile{Name: l.Name, Path: path, Sources: l.Sources}
	data, err := json.MarshalIndent(sf, "", "  ")
	if err != nil {
		return err
	}
	src, err := r.Path(filepath.Join("sources", l.Name+".json"))
	if err != nil {
		return err
	}
	if err := atomicfile.Write(src, append(data, '\n')); err != nil {
		return err
	}
	set := runtime.State(r, loadedKey{}, func() *loadedSet { return &loadedSet{byName: map[string]SourcesFile{}} })
	set.mu.Lock()
	defer set.mu.Unlock()
	set.byName[l.Name] = sf
	names := make([]string, 0, len(set.byName))
	for n := range set.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	list := make([]SourcesFile, len(names))
	for i, n := range names {
		list[i] = set.byName[n]
	}
	return r.SetManifest("loaded_results", list)
}
