package sweep

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"go.starlark.net/starlark"

	"starlab/runtime"
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

// DatasetValue is a dataset() description. Random datasets are drawn when a sweep uses them, from
// the run seed, so the same plan and seed send the same prompts.
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
	var path, num starlark.Value = starlark.None, starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "kind?", &d.Kind, "input_len?", &d.InputLen,
		"output_len?", &d.OutputLen, "range_ratio?", &d.RangeRatio, "path?", &path, "num?", &num); err != nil {
		return nil, err
	}
	if num != starlark.None {
		if err := starlark.AsInt(num, &d.Num); err != nil || d.Num < 1 {
			return nil, runtime.ArgError(b, "num", "want a positive int or None, got %s", num)
		}
	}
	switch d.Kind {
	case "random":
		if d.InputLen < 1 {
			return nil, runtime.ArgError(b, "input_len", "want at least 1, got %d", d.InputLen)
		}
		if d.OutputLen < 1 {
			return nil, runtime.ArgError(b, "output_len", "want at least 1, got %d", d.OutputLen)
		}
		if d.RangeRatio < 0 || d.RangeRatio >= 1 {
			return nil, runtime.ArgError(b, "range_ratio", "want 0 <= range_ratio < 1, got %v", d.RangeRatio)
		}
		if path != starlark.None {
			return nil, runtime.ArgError(b, "path", "kind \"random\" takes no file")
		}
	case "jsonl", "sharegpt":
		p, ok := starlark.AsString(path)
		if !ok || p == "" {
			return nil, runtime.ArgError(b, "path", "kind %q needs the file's path", d.Kind)
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(callerFile(thread)), p)
		}
		d.Path = p
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, runtime.ArgError(b, "path", "%v", err)
		}
		sum := sha256.Sum256(data)
		d.digest = hex.EncodeToString(sum[:8])
		load := LoadJSONL
		if d.Kind == "sharegpt" {
			load = LoadShareGPT
		}
		if d.loaded, err = load(p, d.Num); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
	default:
		return nil, runtime.ArgError(b, "kind", "want \"random\", \"jsonl\" or \"sharegpt\", got %q", d.Kind)
	}
	return d, nil
}

// callerFile is the file of the Starlark code calling the running builtin.
func callerFile(thread *starlark.Thread) string {
	for i := 0; i < thread.CallStackDepth(); i++ {
		if fr := thread.CallFrame(i); fr.Pos.IsValid() && fr.Pos.Filename() != "<builtin>" {
			return fr.Pos.Filename()
		}
	}
	return "."
}

// materialize returns the dataset for a sweep, drawing random prompts from seed.
func (d *DatasetValue) materialize(seed uint64) (*Dataset, error) {
	if d.loaded != nil {
		return d.loaded, nil
	}
	return NewRandom(RandomSpec{InputLen: d.InputLen, OutputLen: d.OutputLen, RangeRatio: d.RangeRatio, Num: d.Num, Seed: seed, Key: d.StepKey()})
}

func (d *DatasetValue) String() string { return d.StepKey() }
func (d *DatasetValue) Type() string   { return "Dataset" }
func (d *DatasetValue) Freeze()        {}
func (d *DatasetValue) Truth() starlark.Bool {
	return true
}
func (d *DatasetValue) Hash() (uint32, error) { return starlark.String(d.StepKey()).Hash() }

// StepKey names the dataset by what it contains (a file by its digest, not its path).
func (d *DatasetValue) StepKey() string {
	if d.Kind == "random" {
		return fmt.Sprintf("dataset(random, input_len=%d, output_len=%d, range_ratio=%g, num=%d)", d.InputLen, d.OutputLen, d.RangeRatio, d.Num)
	}
	return fmt.Sprintf("dataset(%s, %s, sha256=%s, num=%d)", d.Kind, filepath.Base(d.Path), d.digest, d.Num)
}

func (d *DatasetValue) AttrNames() []string {
	return []string{"input_len", "kind", "num", "output_len", "path", "range_ratio"}
}

func (d *DatasetValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "kind":
		return starlark.String(d.Kind), nil
	case "input_len":
		return starlark.MakeInt(d.InputLen), nil
	case "output_len":
		return starlark.MakeInt(d.OutputLen), nil
	case "range_ratio":
		return starlark.Float(d.RangeRatio), nil
	case "path":
		if d.Path == "" {
			return starlark.None, nil
		}
		return starlark.String(d.Path), nil
	case "num":
		if d.Num == 0 {
			return starlark.None, nil
		}
		return starlark.MakeInt(d.Num), nil
	}
	return nil, nil
}
