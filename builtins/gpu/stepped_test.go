package gpu

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestCollectSteppedCancel: a cancelled run stops between rounds and keeps
// what it sampled.
func TestCollectSteppedCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	lib := libOf(fullDevice(0))
	res, err := CollectStepped(ctx, lib, Config{Interval: time.Second}, time.Hour, func(t time.Duration) {
		if t == 2*time.Second {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || len(res.Samples) != 3 || !res.Available {
		t.Fatalf("err %v, %d samples", err, len(res.Samples))
	}
}
