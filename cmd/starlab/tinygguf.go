package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"starlab/builtins/catalog/gguf"
	"starlab/runtime"
)

// tinyGGUFCmd is `starlab tiny-gguf`: the random-weight llama model the real-engine tests serve.
func tinyGGUFCmd(args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlagSet("tiny-gguf", stderr)
	c := gguf.DefaultTiny()
	out := fs.String("out", "", "write the model to `PATH` (required)")
	fs.IntVar(&c.Dim, "dim", c.Dim, "embedding width (a multiple of 8)")
	fs.IntVar(&c.Layers, "layers", c.Layers, "transformer blocks")
	fs.IntVar(&c.Heads, "heads", c.Heads, "attention heads (divides --dim into an even head size)")
	fs.IntVar(&c.KVHeads, "kv-heads", c.KVHeads, "key/value heads (divides --heads)")
	fs.IntVar(&c.FFN, "ffn", c.FFN, "feed-forward width")
	fs.IntVar(&c.Context, "ctx", c.Context, "context length the model states")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "the weights derive from it: the same seed writes the same file")
	vocab := fs.String("vocab", "", "`DIR` with encoder.json and vocab.bpe (default: "+gguf.VocabSubdir+" of "+
		gguf.OllamaModule+"@"+gguf.OllamaVersion+" in the Go module cache, downloaded if absent)")
	if err := fs.Parse(args); err != nil {
		return 2, &runtime.UsageError{Err: err}
	}
	if fs.NArg() > 0 {
		return 2, runtime.Usagef("unexpected argument %q (want: starlab tiny-gguf --out PATH [flags])", fs.Arg(0))
	}
	if *out == "" {
		return 2, runtime.Usagef("--out PATH is required")
	}
	if err := c.Validate(); err != nil {
		return 2, &runtime.UsageError{Err: err}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := gguf.WriteTiny(ctx, *out, c, *vocab)
	if err != nil {
		return 1, err
	}
	fmt.Fprintf(stdout, "%s %d bytes (%.1f MB)\n", *out, n, float64(n)/1e6)
	return 0, nil
}
