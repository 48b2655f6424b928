package runtime

import (
	"fmt"
	"time"

	"go.starlark.net/starlark"
)

// Duration unpacks a duration argument written as a Go duration string ("60s", "1m30s",
// "250ms") or as a number of seconds.
type Duration time.Duration

// Unpack implements starlark.Unpacker.
func (d *Duration) Unpack(v starlark.Value) error {
	switch x := v.(type) {
	case starlark.String:
		parsed, err := time.ParseDuration(string(x))
		if err != nil {
			return fmt.Errorf("want a duration such as \"60s\" or \"1m30s\", got %q", string(x))
		}
		if parsed < 0 {
			return fmt.Errorf("want a duration of at least 0, got %q", string(x))
		}
		*d = Duration(parsed)
		return nil
	case starlark.Int, starlark.Float:
		f, _ := starlark.AsFloat(x)
		if f < 0 {
			return fmt.Errorf("want a duration of at least 0 seconds, got %v", f)
		}
		*d = Duration(time.Duration(f * float64(time.Second)))
		return nil
	}
	return fmt.Errorf("got %s, want a duration string such as \"60s\" or a number of seconds", v.Type())
}

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Floats unpacks a list or tuple of numbers (request rates, concurrencies).
type Floats []float64

// Unpack implements starlark.Unpacker.
func (fs *Floats) Unpack(v starlark.Value) error {
	seq, err := sequence(v, "list of numbers")
	if err != nil {
		return err
	}
	out := make([]float64, seq.Len())
	for i := range out {
		f, ok := starlark.AsFloat(seq.Index(i))
		if !ok {
			return fmt.Errorf("element %d: got %s, want number", i, seq.Index(i).Type())
		}
		out[i] = f
	}
	*fs = out
	return nil
}
