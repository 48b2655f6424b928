package sweep

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"go.starlark.net/starlark"

	"starlab/runtime"
	"starlab/runtime/paramerr"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name:      "dataset",
		Signature: `dataset(kind="random", input_len=512, output_len=128, range_ratio=0.0, path=None, num=None)`,
		Doc: `Describes the requests a sweep sends.

kind="random": prompts of input_len tokens (one common word per token) asking for output_len
tokens; range_ratio spreads both uniformly over [len*(1-r), len*(1+r)] as vLLM bench does, drawn
from the run seed. kind="jsonl": a file with one object per line, {"prompt": ..., "output_len": N}
(output_len optional; output_tokens is accepted too). kind="sharegpt": a ShareGPT JSON file (first
human turn = prompt, first gpt turn's length = output length). path is relative to the plan's
directory; num caps the number of distinct requests (they repeat in order). An invalid file is an
error naming the file and line.`,
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
	digest     string // of the file, in the step key: an edited file is a different dataset
	loaded     *Dataset
}

func datasetBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	d := &DatasetValue{Kind: "random", InputLen: 512, OutputLen: 128}
	var path runtime.Opt[string]
	var num runtime.Opt[int]
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "kind?", &d.Kind, "input_len?", &d.InputLen,
		"output_len?", &d.OutputLen, "range_ratio?", &d.RangeRatio, "path?", &path, "num?", &num); err != nil {
		return nil, err
	}
	if num.Set && num.V < 1 {
		return nil, paramerr.New("num", "want a positive int or None, got %d", num.V)
	}
	d.Num = num.V
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
	default:
		return nil, paramerr.New("kind", "want \"random\", \"jsonl\" or \"sharegpt\", got %q", d.Kind)
	}
	return d.value(), nil
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
	if d.loaded != nil {
		return d.loaded, nil
	}
	return NewRandom(RandomSpec{InputLen: d.InputLen, OutputLen: d.OutputLen, RangeRatio: d.RangeRatio, Num: d.Num, Seed: seed, Key: d.StepKey()})
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
	return runtime.NewObject("Dataset", starlark.StringDict{
		"kind":        starlark.String(d.Kind),
		"input_len":   starlark.MakeInt(d.InputLen),
		"output_len":  starlark.MakeInt(d.OutputLen),
		"range_ratio": starlark.Float(d.RangeRatio),
		"path":        path,
		"num":         num,
	}).WithState(d).WithKey(d.StepKey).WithString(d.StepKey)
}

// StepKey names the dataset by what it contains (a file by its digest, not its path).
func (d *DatasetValue) StepKey() string {
	if d.Kind == "random" {
		return fmt.Sprintf("dataset(random, input_len=%d, output_len=%d, range_ratio=%g, num=%d)", d.InputLen, d.OutputLen, d.RangeRatio, d.Num)
	}
	return fmt.Sprintf("dataset(%s, %s, sha256=%s, num=%d)", d.Kind, filepath.Base(d.Path), d.digest, d.Num)
}
