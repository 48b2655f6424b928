package gpu

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"
)

// Probe samples the GPUs behind one sweep point and summarises exactly the
// measured window, so energy per output token covers the requests the
// metrics count. Its method set is sweep.GPUProbe. A wall-clock probe
// samples in the background from StartWallProbe until Finish; a virtual
// probe samples only when the driver calls Tick or Mark with its clock.
type Probe struct {
	s       *Sampler
	virtual bool
	owned   *Provider // closed by Finish; nil when the library is shared

	mu       sync.Mutex
	marks    []time.Time
	finished bool
}

// ErrProbeFinished is returned by a second Finish.
var ErrProbeFinished = errors.New("gpu: probe already finished")

// StartWallProbe starts background sampling of lib's devices in cfg until
// Finish (or until ctx ends). own, when non-nil, is closed by Finish: a
// per-point simulated library, as opposed to the run's shared real one.
func StartWallProbe(ctx context.Context, p *Provider, cfg Config, own bool) (*Probe, error) {
	s, err := p.NewSampler(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	pr := &Probe{s: s}
	if own {
		pr.owned = p
	}
	return pr, nil
}

// NewVirtualProbe makes a probe whose rounds happen only at the instants
// the driver gives (Tick, Mark), read from a library that follows the
// simulator's virtual clock (OpenSimVirtual). Finish closes p.
func NewVirtualProbe(p *Provider, devices []int) (*Probe, error) {
	// The counter is free on a simulated card: read it every round.
	s, err := p.NewSampler(Config{Devices: devices, EnergyInterval: time.Nanosecond})
	if err != nil {
		return nil, err
	}
	return &Probe{s: s, virtual: true, owned: p}, nil
}

// Tick takes a round at virtual time at. Wall-clock probes sample on their
// own, so there it does nothing.
func (p *Probe) Tick(at time.Time) {
	if p.virtual && !p.done() {
		p.s.RoundAt(at)
	}
}

// Mark records a window edge: the first call opens the window, the second
// closes it. A virtual probe also takes a round there that reads the energy
// counter; a wall-clock probe only records the time, since the driver may
// mark after the fact.
func (p *Probe) Mark(at time.Time) {
	p.mu.Lock()
	if p.finished {
		p.mu.Unlock()
		return
	}
	p.marks = append(p.marks, at)
	p.mu.Unlock()
	if p.virtual {
		p.s.MarkAt(at)
	}
}

// Finish ends sampling and returns the window's Point as JSON. Without two
// marks the window is open on the missing side.
func (p *Probe) Finish(outputTokens int) (json.RawMessage, error) {
	p.mu.Lock()
	if p.finished {
		p.mu.Unlock()
		return nil, ErrProbeFinished
	}
	p.finished = true
	marks := append([]time.Time(nil), p.marks...)
	p.mu.Unlock()

	if !p.virtual {
		p.s.Stop()
	}
	var t0, t1 time.Time
	if len(marks) > 0 {
		t0 = marks[0]
	}
	if len(marks) > 1 {
		t1 = marks[len(marks)-1]
	}
	sums := p.s.Window(t0, t1)
	if t0.IsZero() || t1.IsZero() {
		t0, t1 = windowBounds(sums, t0, t1)
	}
	bridgeEdges(sums, t0, t1)
	pt := NewPoint(t0, t1, sums, int64(outputTokens))
	var closeErr error
	if p.owned != nil {
		closeErr = p.owned.Close()
	}
	data, err := json.Marshal(pt)
	if err != nil {
		return nil, err
	}
	return data, closeErr
}

func (p *Probe) done() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.finished
}

// windowBounds fills the open edges of a window with the samples' own
// extent, so a Point always says which time it covers.
func windowBounds(sums []Summary, t0, t1 time.Time) (time.Time, time.Time) {
	open0, open1 := t0.IsZero(), t1.IsZero()
	for _, s := range sums {
		if s.Start.IsZero() {
			continue
		}
		if open0 && (t0.IsZero() || s.Start.Before(t0)) {
			t0 = s.Start
		}
		if open1 && s.End.After(t1) {
			t1 = s.End
		}
	}
	return t0, t1
}

// bridgeEdges extends each device's energy from its first and last sample
// to the window's edges at the window's mean power. A wall-clock probe's
// rounds fall up to one interval inside the marks, and a point's energy
// must cover the whole window its tokens came from.
func bridgeEdges(sums []Summary, t0, t1 time.Time) {
	for i := range sums {
		s := &sums[i]
		if s.EnergyJ == nil || s.MeanPowerW == nil || s.Start.IsZero() {
			continue
		}
		gap := s.Start.Sub(t0) + t1.Sub(s.End)
		if gap > 0 {
			j := *s.EnergyJ + *s.MeanPowerW*gap.Seconds()
			s.EnergyJ = &j
		}
	}
}
