// Package results reads other tools' benchmark results into starlab points and writes starlab's
// points in vLLM bench's format, so that analyses and reports work across tools. It reads
// `vllm bench serve --save-result` JSON (a file, or a directory of them as `vllm bench sweep`
// writes), GuideLLM's benchmarks report and AIPerf's profile_export_aiperf.json, telling them
// apart by content. Loaded points carry vLLM bench's field names (pointschema.Point), NaN for
// every figure a format does not give, and the same consistency checks as measured points.
// The package is pure Go: load_results's binding is in binding.go.
package results

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"starlab/builtins/consistency"
	"starlab/builtins/sweep/pointschema"
)

// Format names, as Source.Format gives them.
const (
	FormatVLLMBench = "vllm-bench"
	FormatGuideLLM  = "guidellm"
	FormatAIPerf    = "aiperf"
)

// Formats lists the formats Load recognises, in the order it tries them.
func Formats() []string { return []string{FormatVLLMBench, FormatGuideLLM, FormatAIPerf} }

// EngineExternal is the engine of a point whose file does not say which engine served it.
const EngineExternal = "external"

// Source says where loaded points came from: the file (as given, joined with the directory it was
// found in), its format, the tool and version that wrote it when the file says, the model it
// measured, and which of the Loaded points it gave (indices into Points).
type Source struct {
	Path   string `json:"path"`
	Format string `json:"format"`
	Tool   string `json:"tool"`
	Model  string `json:"model,omitempty"`
	Points []int  `json:"points"`
}

// Loaded is one sweep read from results files: its name, its points sorted by load, and their
// sources.
type Loaded struct {
	Name    string              `json:"name"`
	Points  []pointschema.Point `json:"-"`
	Sources []Source            `json:"sources"`
}

// Load reads a results file or directory. path is where to read; shown is the path as the user
// gave it, for sources and errors ("" = path). A directory loads every *.json in it and in its
// subdirectories one level down (vllm bench sweep's layout) as one sweep. The points are sorted by
// load: request_rate, then max_concurrency. The name is the file's or directory's base name.
func Load(path, shown string) (*Loaded, error) {
	if shown == "" {
		shown = path
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var files []found
	if info.IsDir() {
		files, err = resultFiles(path, shown)
		if err != nil {
			return nil, err
		}
	} else {
		files = []found{{path: path, shown: shown}}
	}
	type tagged struct {
		p   pointschema.Point
		src int
		seq int
	}
	var all []tagged
	var sources []Source
	for _, f := range files {
		data, err := os.ReadFile(f.path)
		if err != nil {
			return nil, err
		}
		pts, src, err := parse(f.shown, data)
		if err != nil {
			return nil, err
		}
		for _, p := range pts {
			all = append(all, tagged{p: p, src: len(sources), seq: len(all)})
		}
		sources = append(sources, src)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("%s: no results in it", shown)
	}
	sort.SliceStable(all, func(i, j int) bool { return lessLoad(all[i].p, all[j].p) })
	l := &Loaded{Name: defaultName(shown), Sources: sources}
	for i, t := range all {
		l.Points = append(l.Points, t.p)
		l.Sources[t.src].Points = append(l.Sources[t.src].Points, i)
	}
	for i := range l.Sources {
		if l.Sources[i].Points == nil {
			l.Sources[i].Points = []int{}
		}
	}
	return l, nil
}

type found struct{ path, shown string }

// resultFiles lists a directory's result files, and its subdirectories' one level down, sorted.
// vllm bench sweep writes, per combination, run=N.json, a summary.json repeating them, warmup.json
// and, on failure, NAME.failure.json; vllm bench serve writes NAME.pytorch.json beside each
// result. Only the runs are results.
func resultFiles(dir, shown string) ([]found, error) {
	var out []found
	var walk func(rel string, depth int) error
	walk = func(rel string, depth int) error {
		entries, err := os.ReadDir(filepath.Join(dir, rel))
		if err != nil {
			return err
		}
		hasRuns := false
		for _, e := range entries {
			if runFile.MatchString(e.Name()) {
				hasRuns = true
			}
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") {
				continue
			}
			if e.IsDir() {
				if depth == 0 {
					if err := walk(filepath.Join(rel, name), 1); err != nil {
						return err
					}
				}
				continue
			}
			if !strings.HasSuffix(name, ".json") || companion(name) || (hasRuns && name == "summary.json") {
				continue
			}
			out = append(out, found{path: filepath.Join(dir, rel, name), shown: filepath.Join(shown, rel, name)})
		}
		return nil
	}
	if err := walk("", 0); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no .json result files in it or its subdirectories", shown)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].shown < out[j].shown })
	return out, nil
}

var runFile = regexp.MustCompile(`^run=\d+\.json$`)

// companion reports the files vLLM's tools write beside results that are not results.
func companion(name string) bool {
	return name == "warmup.json" || strings.HasSuffix(name, ".failure.json") || strings.HasSuffix(name, ".pytorch.json")
}

// parse reads one file's points, telling the format by content.
func parse(shown string, data []byte) ([]pointschema.Point, Source, error) {
	vals, err := decodeAll(shown, data)
	if err != nil {
		return nil, Source{}, err
	}
	// A file of several values (--append-result) or a list (a sweep's summary.json) is a list of
	// vLLM results.
	items := vals
	if len(vals) == 1 {
		if list, ok := vals[0].([]any); ok {
			items = list
		}
	}
	src := Source{Path: shown}
	switch {
	case len(items) > 0 && allObjects(items, isVLLM):
		src.Format, src.Tool = FormatVLLMBench, "vllm bench serve"
		var pts []pointschema.Point
		for i, it := range items {
			p, model, err := fromVLLM(it.(obj))
			if err != nil {
				if len(items) > 1 {
					return nil, src, fmt.Errorf("%s: result %d: %w", shown, i+1, err)
				}
				return nil, src, fmt.Errorf("%s: %w", shown, err)
			}
			src.Model = firstNonEmpty(src.Model, model)
			pts = append(pts, p)
		}
		return pts, src, nil
	case len(items) == 1 && isGuideLLM(items[0]):
		src.Format = FormatGuideLLM
		pts, tool, model, err := fromGuideLLM(items[0].(obj))
		if err != nil {
			return nil, src, fmt.Errorf("%s: %w", shown, err)
		}
		src.Tool, src.Model = tool, model
		return pts, src, nil
	case len(items) == 1 && isAIPerf(items[0]):
		src.Format = FormatAIPerf
		p, tool, model, err := fromAIPerf(items[0].(obj))
		if err != nil {
			return nil, src, fmt.Errorf("%s: %w", shown, err)
		}
		src.Tool, src.Model = tool, model
		return []pointschema.Point{p}, src, nil
	}
	return nil, src, fmt.Errorf("%s: not a results file of a known format (tried %s: %s)", shown,
		strings.Join(Formats(), ", "), formatHints)
}

const formatHints = `vllm bench serve --save-result JSON has "completed" and "request_throughput"; ` +
	`GuideLLM's report has "benchmarks" with "metrics"; AIPerf's profile export has metrics such as "request_throughput" as {"unit", "avg", ...}`

func allObjects(items []any, is func(any) bool) bool {
	for _, it := range items {
		if !is(it) {
			return false
		}
	}
	return true
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// lessLoad orders points by offered load: request_rate (finite before a closed loop's inf, unknown
// last), then max_concurrency (0, unbounded, after every bound).
func lessLoad(a, b pointschema.Point) bool {
	ra, rb := rateKey(float64(a.RequestRate)), rateKey(float64(b.RequestRate))
	if ra != rb {
		return ra < rb
	}
	return concKey(a.MaxConcurrency) < concKey(b.MaxConcurrency)
}

func rateKey(r float64) float64 {
	if math.IsNaN(r) {
		return math.MaxFloat64
	}
	return r
}

func concKey(c int) int {
	if c <= 0 {
		return math.MaxInt
	}
	return c
}

// defaultName is a sweep name from a path: the base name without .json, file-safe.
func defaultName(shown string) string {
	base := filepath.Base(filepath.Clean(shown))
	base = strings.TrimSuffix(base, ".json")
	base = unsafeChars.ReplaceAllString(base, "_")
	if base == "" || base == "." || base == ".." {
		return "loaded"
	}
	return base
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// newPoint is a point that knows nothing yet: every figure NaN (null), no checks.
func newPoint() pointschema.Point {
	nan := pointschema.Float(math.NaN())
	p := pointschema.Point{Engine: EngineExternal, Errors: map[string]int{}, Confidence: nan, Delivered: nan,
		RequestRate: nan, Burstiness: nan, Duration: nan,
		RequestThroughput: nan, OutputThroughput: nan, TotalTokenThroughput: nan, RequestGoodput: nan}
	for _, f := range latencyFields(&p) {
		*f = nan
	}
	c := &p.Client
	c.SendLagP50Ms, c.SendLagP99Ms, c.SendLagMaxMs, c.AchievedSendRate, c.ScheduledSendRate = nan, nan, nan, nan, nan
	return p
}

// latencyFields are the point's mean/median/std/p90/p99 of ttft, tpot, itl and e2el, in that order.
func latencyFields(p *pointschema.Point) []*pointschema.Float {
	return []*pointschema.Float{
		&p.MeanTTFTMs, &p.MedianTTFTMs, &p.StdTTFTMs, &p.P90TTFTMs, &p.P99TTFTMs,
		&p.MeanTPOTMs, &p.MedianTPOTMs, &p.StdTPOTMs, &p.P90TPOTMs, &p.P99TPOTMs,
		&p.MeanITLMs, &p.MedianITLMs, &p.StdITLMs, &p.P90ITLMs, &p.P99ITLMs,
		&p.MeanE2ELMs, &p.MedianE2ELMs, &p.StdE2ELMs, &p.P90E2ELMs, &p.P99E2ELMs,
	}
}

// stats5 are one latency's mean, median, std, p90 and p99 in ms.
type stats5 [5]float64

func unknown5() stats5 { return stats5{math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()} }

func (s stats5) scaled(k float64) stats5 {
	for i := range s {
		s[i] *= k
	}
	return s
}

// setLatency fills latency k (0 ttft, 1 tpot, 2 itl, 3 e2el) of p.
func setLatency(p *pointschema.Point, k int, s stats5) {
	f := latencyFields(p)
	for i, v := range s {
		*f[5*k+i] = pointschema.Float(v)
	}
}

// finish derives what follows from the figures read and runs the consistency checks every
// measured point gets.
func finish(p *pointschema.Point) {
	switch {
	case math.IsInf(float64(p.RequestRate), 1):
		p.Arrival = firstNonEmpty(p.Arrival, "closed")
	case math.IsNaN(float64(p.Burstiness)):
	case p.Arrival == "" && float64(p.Burstiness) == 1:
		p.Arrival = "poisson"
	case p.Arrival == "":
		p.Arrival = "gamma"
	}
	if p.Client.Sent == 0 {
		p.Client.Sent = p.Completed + p.Failed + p.Incomplete
	}
	p.Checks = consistency.Point(consistency.OfPoint(p))
}
