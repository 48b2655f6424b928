package sweep

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// recordingProbe notes what the driver told it.
type recordingProbe struct {
	ticks  []time.Time
	marks  []time.Time
	tokens int
}

func (p *recordingProbe) Tick(at time.Time) { p.ticks = append(p.ticks, at) }
func (p *recordingProbe) Mark(at time.Time) { p.marks = append(p.marks, at) }
func (p *recordingProbe) Finish(outputTokens int) (json.RawMessage, error) {
	p.tokens = outputTokens
	return json.RawMessage(fmt.Sprintf(`{"marks":%d}`, len(p.marks))), nil
}

// The probe's window is the metrics' window: warmup end to send end, with the output tokens the
// point counts, so J/token divides matching quantities.
func TestGPUProbeCoversTheMeasuredWindow(t *testing.T) {
	o := testOptions(t)
	o.Warmup, o.Duration = 2*time.Second, 5*time.Second
	probe := &recordingProbe{}
	o.GPU = func(context.Context) (GPUProbe, error) { return probe, nil }
	p, err := RunVirtualPoint(context.Background(), &fifoServer{perToken: 10 * time.Millisecond}, o, PointSpec{Rate: 5})
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{VirtualEpoch.Add(2 * time.Second), VirtualEpoch.Add(7 * time.Second)}
	if len(probe.marks) != 2 || !probe.marks[0].Equal(want[0]) || !probe.marks[1].Equal(want[1]) {
		t.Fatalf("virtual marks %v, want %v", probe.marks, want)
	}
	if len(probe.ticks) < 7 || probe.tokens != p.TotalOutputTokens || string(p.GPU) != `{"marks":2}` {
		t.Fatalf("ticks %d tokens %d/%d gpu %s", len(probe.ticks), probe.tokens, p.TotalOutputTokens, p.GPU)
	}

	s := (&fakeServer{}).start(t)
	probe = &recordingProbe{}
	o = testOptions(t)
	o.Warmup, o.Duration = 100*time.Millisecond, 300*time.Millisecond
	o.GPU = func(context.Context) (GPUProbe, error) { return probe, nil }
	p, err = RunPoint(context.Background(), Target{URL: s.URL, Model: "m"}, o, PointSpec{Rate: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(probe.marks) != 2 || probe.marks[1].Sub(probe.marks[0]) != 300*time.Millisecond || probe.tokens != p.TotalOutputTokens {
		t.Fatalf("wall marks %v tokens %d", probe.marks, probe.tokens)
	}
}
