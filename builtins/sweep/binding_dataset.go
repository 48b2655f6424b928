package sweep

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"starlab/builtins/sweep/traces"

	"go.starlark.net/starlark"

	"starlab/runtime"
	"starlab/runtime/paramerr"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name: "dataset",
		Signature: `dataset(kind="random", input_len=512, output_len=128, range_ratio=0.0, path=None, num=None,
        format=None, prefix_len=0, sessions=None, turns=None, system_prompt_len=0, think_time="0s")`,
		Doc: `Describes the requests a sweep sends.

kind="random": prompts of input_len tokens (one common word per token) asking for output_len
tokens; range_ratio spreads both uniformly over [len*(1-r), len*(1+r)] as vLLM bench does, drawn
from the run seed. kind="jsonl": a file with one object per line, {"prompt": ..., "output_len": N}
(output_len optional; output_tokens is accepted too). kind="sharegpt": a ShareGPT JSON file (first
human turn = prompt, first gpt turn's length = output length). path is relative to the plan's
directory; num caps the number of distinct requests (they repeat in order). An invalid file is an
error naming the file and line. prefix_len (random) puts the same prefix_len tokens before every
prompt's input_len random ones (vLLM bench's --random-prefix-len), so prefix caches reuse them.

kind="trace": a request trace, streamed (never loaded whole) and checked row by row when the
dataset is made. format names it: "azure" (Azure LLM inference traces, CSV TIMESTAMP,
ContextTokens, GeneratedTokens), "burstgpt" (CSV Timestamp, Model, Request tokens, Response
tokens, ...; rows with 0 response tokens, failed requests, are skipped), "mooncake" (JSONL
timestamp in ms, input_length, output_length, hash_ids of 512-token blocks) or "jsonl" ({"t":
seconds, "input_len", "output_len", optional "prompt", "session"}; the default for .jsonl).
sweep(trace=...) replays its times; as a sweep's dataset it gives only the requests. Prompts are
generated words unless the row has one: rows sharing Mooncake hash ids share those blocks'
tokens, and a session's rows extend the same text, so a real server's prefix cache sees them.

kind="conversations": multi-turn sessions. Each session has a number of turns drawn uniformly
from turns = [min, max] (default [2, 8]); each turn is a user message of input_len tokens
answered with output_len (range_ratio spreads both); every prompt carries the shared system
prompt of system_prompt_len tokens and the whole history (the dataset's own answers, so reruns
send the same prompts). The next turn is sent think_time after the previous answer ended. With
rates, sweep starts sessions at those rates; with concurrency, that many sessions are in flight.
sessions caps the distinct sessions (later ones repeat them, hitting any prefix cache), None
makes every session new. Points then carry sessions: started, completed, truncated (cut by the
window's end), mean turns and length, and per-turn latency and prompt size.`,
		Fn: datasetBuiltin,
	})
}

// DatasetValue is a dataset() description, the state behind a plan's Dataset. Random datasets are
// drawn when a sweep uses them, from the run seed, so the same plan and seed send the same prompts.
type DatasetValue struct {
	Kind       string
	InputLen   int
	OutputLen  int
	RangeRatio float64
	Path       string // absolute
	Num        int
	Format     string // trace
	PrefixLen  int    // random
	Conv       ConversationSpec
	digest     string // of the file, in the step key: an edited file is a different dataset
	loaded     *Dataset
	trace      *traceSource
}

func datasetBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	d := &DatasetValue{Kind: "random", InputLen: 512, OutputLen: 128}
	var path, format runtime.Opt[string]
	var num, sessions runtime.Opt[int]
	var turns runtime.Opt[runtime.Floats]
	var think runtime.Duration
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "kind?", &d.Kind, "input_len?", &d.InputLen,
		"output_len?", &d.OutputLen, "range_ratio?", &d.RangeRatio, "path?", &path, "num?", &num,
		"format?", &format, "prefix_len?", &d.PrefixLen, "sessions?", &sessions, "turns?", &turns,
		"system_prompt_len?", &d.Conv.SystemPromptLen, "think_time?", &think); err != nil {
		return nil, err
	}
	if num.Set && num.V < 1 {
		return nil, paramerr.New("num", "want a positive int or None, got %d", num.V)
	}
	d.Num = num.V
	if d.PrefixLen != 0 && d.Kind != "random" {
		return nil, paramerr.New("prefix_len", "is for kind \"random\" (conversations share system_prompt_len)")
	}
	if d.PrefixLen < 0 {
		return nil, paramerr.New("prefix_len", "want 0 or more tokens, got %d", d.PrefixLen)
	}
	if format.Set && d.Kind != "trace" {
		return nil, paramerr.New("format", "is for kind \"trace\"")
	}
	if d.Kind != "conversations" {
		for _, p := range []struct {
			name string
			set  bool
		}{{"sessions", sessions.Set}, {"turns", turns.Set}, {"system_prompt_len", d.Conv.SystemPromptLen != 0}, {"think_time", think != 0}} {
			if p.set {
				return nil, paramerr.New(p.name, "is for kind \"conversations\"")
			}
		}
	}
	switch d.Kind {
	case "random":
		if d.InputLen < 1 {
			return nil, paramerr.New("input_len", "want at least 1, got %d", d.InputLen)
		}
		if d.OutputLen < 1 {
			return nil, paramerr.New("output_len", "want at least 1, got %d", d.OutputLen)
		}
		if d.RangeRatio < 0 || d.RangeRatio >= 1 {
			return nil, paramerr.New("range_ratio", "want 0 <= range_ratio < 1, got %v", d.RangeRatio)
		}
		if path.Set {
			return nil, paramerr.New("path", "kind \"random\" takes no file")
		}
	case "jsonl", "sharegpt":
		if path.V == "" {
			return nil, paramerr.New("path", "kind %q needs the file's path", d.Kind)
		}
		if err := d.load(path.V, filepath.Dir(runtime.CallerFile(thread))); err != nil {
			return nil, paramerr.Wrap("path", err)
		}
	case "trace":
		if path.V == "" {
			return nil, paramerr.New("path", "kind \"trace\" needs the trace file's path")
		}
		if num.Set {
			return nil, paramerr.New("num", "a trace replays its own rows; cut it with sweep's duration")
		}
		d.Format = format.V
		if d.Format == "" && strings.HasSuffix(path.V, ".jsonl") {
			d.Format = "jsonl"
		}
		if !slices.Contains(traces.Formats(), d.Format) {
			return nil, paramerr.New("format", "want one of %s, got %q", strings.Join(traces.Formats(), ", "), d.Format)
		}
		if err := d.loadTrace(path.V, filepath.Dir(runtime.CallerFile(thread))); err != nil {
			return nil, paramerr.Wrap("path", err)
		}
	case "conversations":
		if path.Set {
			return nil, paramerr.New("path", "kind \"conversations\" generates its sessions")
		}
		c := &d.Conv
		c.Sessions, c.TurnsMin, c.TurnsMax, c.ThinkTime = sessions.V, 2, 8, think.Std()
		c.InputLen, c.OutputLen, c.RangeRatio = d.InputLen, d.OutputLen, d.RangeRatio
		if sessions.Set && sessions.V < 1 {
			return nil, paramerr.New("sessions", "want a positive int or None, got %d", sessions.V)
		}
		if turns.Set {
			t := turns.V
			if len(t) == 1 {
				t = append(t, t[0])
			}
			if len(t) != 2 || t[0] != math.Trunc(t[0]) || t[1] != math.Trunc(t[1]) || t[0] < 1 || t[1] < t[0] {
				return nil, paramerr.New("turns", "want [min, max] whole numbers with 1 <= min <= max, got %v", turns.V)
			}
			c.TurnsMin, c.TurnsMax = int(t[0]), int(t[1])
		}
		if err := c.Validate(); err != nil {
			return nil, paramerr.New(conversationParam(err), "%v", err)
		}
	default:
		return nil, paramerr.New("kind", "want \"random\", \"jsonl\", \"sharegpt\", \"trace\" or \"conversations\", got %q", d.Kind)
	}
	return d.value(), nil
}

// conversationParam names the parameter a ConversationSpec error is about.
func conversationParam(err error) string {
	for _, p := range []string{"sessions", "turns", "system_prompt_len", "input_len", "range_ratio", "think_time"} {
		if strings.HasPrefix(err.Error(), p) {
			return p
		}
	}
	return "kind"
}

// loadTrace checks the trace (every row, streaming) and remembers its digest, computed while
// streaming too.
func (d *DatasetValue) loadTrace(path, dir string) error {
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	d.Path = path
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return err
	}
	d.digest = hex.EncodeToString(h.Sum(nil)[:8])
	d.trace, err = newTraceSource(TraceSpec{Path: path, Format: d.Format, Key: d.StepKey()})
	return err
}

// load reads the dataset's file (relative to dir) and remembers its digest.
func (d *DatasetValue) load(path, dir string) error {
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	d.Path = path
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	d.digest = hex.EncodeToString(sum[:8])
	load := LoadJSONL
	if d.Kind == "sharegpt" {
		load = LoadShareGPT
	}
	d.loaded, err = load(path, d.Num)
	return err
}

// materialize returns the dataset for a sweep, drawing random prompts from seed.
func (d *DatasetValue) materialize(seed uint64) (*Dataset, error) {
	switch {
	case d.loaded != nil:
		return d.loaded, nil
	case d.trace != nil:
		// Each sweep streams with its own reader.
		t := &traceSource{spec: d.trace.spec, rows: d.trace.rows, skipped: d.trace.skipped, span: d.trace.span}
		t.spec.Seed = seed
		return &Dataset{Kind: "trace", Path: d.Path, trace: t}, nil
	case d.Kind == "conversations":
		c := d.Conv
		c.Seed, c.Key = seed, d.StepKey()
		return &Dataset{Kind: "conversations", conv: &c}, nil
	}
	return NewRandom(RandomSpec{InputLen: d.InputLen, OutputLen: d.OutputLen, RangeRatio: d.RangeRatio, Num: d.Num,
		PrefixLen: d.PrefixLen, Seed: seed, Key: d.StepKey()})
}

// TraceSpec is the trace of a kind="trace" dataset (nil for other kinds).
func (d *DatasetValue) TraceSpec() *TraceSpec {
	if d.trace == nil {
		return nil
	}
	s := d.trace.spec
	return &s
}

// value is the Dataset a plan holds; it prints as, and is keyed by, what it contains.
func (d *DatasetValue) value() *runtime.Object {
	path, num := starlark.Value(starlark.None), starlark.Value(starlark.None)
	if d.Path != "" {
		path = starlark.String(d.Path)
	}
	if d.Num != 0 {
		num = starlark.MakeInt(d.Num)
	}
	attrs := starlark.StringDict{
		"kind":        starlark.String(d.Kind),
		"input_len":   starlark.MakeInt(d.InputLen),
		"output_len":  starlark.MakeInt(d.OutputLen),
		"range_ratio": starlark.Float(d.RangeRatio),
		"path":        path,
		"num":         num,
		"prefix_len":  starlark.MakeInt(d.PrefixLen),
	}
	switch {
	case d.trace != nil:
		attrs["format"] = starlark.String(d.Format)
		attrs["rows"] = starlark.MakeInt(d.trace.rows)
		attrs["skipped"] = starlark.MakeInt(d.trace.skipped)
		attrs["span"] = starlark.Float(d.trace.span)
	case d.Kind == "conversations":
		c := d.Conv
		sessions := starlark.Value(starlark.None)
		if c.Sessions > 0 {
			sessions = starlark.MakeInt(c.Sessions)
		}
		attrs["sessions"] = sessions
		attrs["turns"] = starlark.Tuple{starlark.MakeInt(c.TurnsMin), starlark.MakeInt(c.TurnsMax)}
		attrs["system_prompt_len"] = starlark.MakeInt(c.SystemPromptLen)
		attrs["think_time"] = starlark.Float(c.ThinkTime.Seconds())
	}
	return runtime.NewObject("Dataset", attrs).WithState(d).WithKey(d.StepKey).WithString(d.StepKey)
}

// StepKey names the dataset by what it contains (a file by its digest, not its path).
func (d *DatasetValue) StepKey() string {
	switch d.Kind {
	case "random":
		prefix := ""
		if d.PrefixLen > 0 {
			prefix = fmt.Sprintf(", prefix_len=%d", d.PrefixLen)
		}
		return fmt.Sprintf("dataset(random, input_len=%d, output_len=%d, range_ratio=%g, num=%d%s)", d.InputLen, d.OutputLen, d.RangeRatio, d.Num, prefix)
	case "trace":
		return fmt.Sprintf("dataset(trace, %s, format=%s, sha256=%s)", filepath.Base(d.Path), d.Format, d.digest)
	case "conversations":
		c := d.Conv
		return fmt.Sprintf("dataset(conversations, sessions=%d, turns=[%d, %d], system_prompt_len=%d, input_len=%d, output_len=%d, range_ratio=%g, think_time=%s)",
			c.Sessions, c.TurnsMin, c.TurnsMax, c.SystemPromptLen, c.InputLen, c.OutputLen, c.RangeRatio, c.ThinkTime)
	}
	return fmt.Sprintf("dataset(%s, %s, sha256=%s, num=%d)", d.Kind, filepath.Base(d.Path), d.digest, d.Num)
}
