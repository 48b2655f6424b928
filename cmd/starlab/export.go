package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"starlab/builtins/results"
	"starlab/runtime"
)

// exportFormats are the formats `starlab export` writes.
var exportFormats = []string{results.FormatVLLMBench}

// exportCmd is `starlab export RUNDIR --format vllm-bench [--out DIR]`: every point of every sweep
// of the run as a vLLM bench result file, so vLLM's own tooling (and load_results) reads them.
// It prints the files written, one a line.
func exportCmd(args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlagSet("export", stderr)
	format := fs.String("format", "", "the format to write: "+strings.Join(exportFormats, ", "))
	out := fs.String("out", "", "the directory to write into (default RUNDIR/export/FORMAT)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2, err
	}
	if len(pos) != 1 {
		return 2, runtime.Usagef("want: starlab export RUNDIR --format vllm-bench [--out DIR]")
	}
	if *format != results.FormatVLLMBench {
		return 2, runtime.Usagef("--format: want one of %s, got %q", strings.Join(exportFormats, ", "), *format)
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join(pos[0], "export", *format)
	}
	files, err := results.ExportVLLMBench(pos[0], dir)
	if err != nil {
		return 1, err
	}
	for _, f := range files {
		fmt.Fprintln(stdout, f)
	}
	return 0, nil
}
