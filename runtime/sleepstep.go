package runtime

import (
	"context"
	"time"

	"go.starlark.net/starlark"
)

func init() {
	Register(Builtin{
		Name:      "sleep_step",
		Signature: `sleep_step(duration="0s", value=None)`,
		Doc: `Waits for duration as a journaled step and returns value (or the seconds waited).

The smallest side-effecting builtin: it shows the journal at work (--resume skips completed
sleeps, replay answers them from the journal) and stands in for a measurement in tests and
tutorials. Ctrl-C interrupts the wait.`,
		Fn: sleepStep,
	})
}

func sleepStep(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var d Duration
	var value starlark.Value = starlark.None
	if err := UnpackArgs(thread, b, args, kwargs, "duration?", &d, "value?", &value); err != nil {
		return nil, err
	}
	return StepValue(thread, b, args, kwargs, func(ctx context.Context) (starlark.Value, error) {
		FromThread(thread).Log.Info().Str("step", b.Name()).Dur("duration", d.Std()).Msg("executing step")
		if err := Sleep(ctx, d.Std()); err != nil {
			return nil, err
		}
		if value == starlark.None {
			return starlark.Float(time.Duration(d).Seconds()), nil
		}
		return value, nil
	})
}
