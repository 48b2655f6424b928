package gpu

import (
	"context"
	"errors"
	"fmt"
	"starlab/runtime/paramerr"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// DefaultInterval is the sampling period when Config.Interval is zero: fine
// enough to see a sweep point's ramp, cheap enough to be invisible (see
// BenchmarkRound8Devices).
const DefaultInterval = 100 * time.Millisecond

// DefaultEnergyInterval is how often the energy counter is read when
// Config.EnergyInterval is zero. Reading it costs about 4 ms of CPU per
// device on an H100 (driver 580), so reading it every 100 ms on 8 GPUs would
// take a third of a core; every 10 s it stays well inside the 1% budget, and
// summaries bridge the gaps with integrated power.
const DefaultEnergyInterval = 10 * time.Second

// Config chooses what a Sampler reads and how often.
type Config struct {
	Devices  []int         // NVML indices; nil means every device
	Interval time.Duration // zero means DefaultInterval
	// EnergyInterval spaces energy-counter reads; zero means
	// DefaultEnergyInterval, anything up to Interval reads it every round.
	// The first round, Mark and Stop's closing round always read it.
	EnergyInterval time.Duration
	// Now stamps samples; nil means time.Now. Virtual-time runs and tests
	// inject their own clock (or call RoundAt directly).
	Now func() time.Time
}

// deviceState is one sampled device and whether it is still there.
type deviceState struct {
	info     Device
	handle   nvml.Device
	pending  string    // lost before the first round; reported by it
	lostAt   time.Time // zero while the device answers
	lostMsg  string
	energyAt time.Time // last energy-counter read; zero before the first
}

// Sampler reads a fixed set of devices, one round at a time, and keeps the
// series. Rounds are driven either by the caller (Round, RoundAt) or by the
// background loop (Start/Stop). It is safe for concurrent use.
type Sampler struct {
	interval       time.Duration
	energyInterval time.Duration
	now            func() time.Time

	mu      sync.Mutex
	devs    []deviceState
	samples []Sample

	bg *background
}

// background is the state of a Start/Stop run.
type background struct {
	cancel context.CancelFunc
	done   chan struct{}
	start  time.Time
}

// NewSampler resolves the chosen devices on an initialised library. A device
// that is already gone does not fail the sampler: the first round records
// its error and the others are sampled as usual.
func NewSampler(lib nvml.Interface, cfg Config) (*Sampler, error) {
	if cfg.Interval < 0 || cfg.EnergyInterval < 0 {
		return nil, fmt.Errorf("gpu: intervals must be positive, got %v and %v", cfg.Interval, cfg.EnergyInterval)
	}
	s := &Sampler{interval: cfg.Interval, energyInterval: cfg.EnergyInterval, now: cfg.Now}
	if s.interval == 0 {
		s.interval = DefaultInterval
	}
	if s.energyInterval == 0 {
		s.energyInterval = DefaultEnergyInterval
	}
	if s.now == nil {
		s.now = time.Now
	}
	count, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("gpu: counting devices: %s", retString(ret))
	}
	indices, err := chooseDevices(cfg.Devices, count)
	if err != nil {
		return nil, err
	}
	for _, i := range indices {
		s.devs = append(s.devs, openDevice(lib, i))
	}
	return s, nil
}

// chooseDevices validates the requested indices against the device count.
func chooseDevices(want []int, count int) ([]int, error) {
	if want == nil {
		all := make([]int, count)
		for i := range all {
			all[i] = i
		}
		return all, nil
	}
	seen := map[int]bool{}
	for _, i := range want {
		if i < 0 || i >= count {
			return nil, paramerr.New("gpus", "device %d does not exist (%d visible)", i, count)
		}
		if seen[i] {
			return nil, paramerr.New("gpus", "device %d listed twice", i)
		}
		seen[i] = true
	}
	return append([]int(nil), want...), nil
}

// openDevice reads a device's identity once, so rounds only read telemetry.
func openDevice(lib nvml.Interface, index int) deviceState {
	d := deviceState{info: Device{Index: index}}
	h, ret := lib.DeviceGetHandleByIndex(index)
	if ret != nvml.SUCCESS {
		d.pending = fmt.Sprintf("device lost (handle: %s)", retString(ret))
		return d
	}
	d.handle = h
	if name, ret := h.GetName(); ret == nvml.SUCCESS {
		d.info.Name = name
	} else if deviceGone(ret) {
		d.pending = lostError{field: "name", ret: ret}.Error()
	}
	if uuid, ret := h.GetUUID(); ret == nvml.SUCCESS {
		d.info.UUID = uuid
	} else if deviceGone(ret) && d.pending == "" {
		d.pending = lostError{field: "uuid", ret: ret}.Error()
	}
	if m, ret := h.GetMemoryInfo(); ret == nvml.SUCCESS {
		d.info.MemoryTotal = m.Total
	} else if deviceGone(ret) && d.pending == "" {
		d.pending = lostError{field: "memory", ret: ret}.Error()
	}
	return d
}

// Interval is the period of the background loop.
func (s *Sampler) Interval() time.Duration { return s.interval }

// Devices lists the sampled devices in the order they were chosen.
func (s *Sampler) Devices() []Device {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Device, len(s.devs))
	for i, d := range s.devs {
		out[i] = d.info
	}
	return out
}

// Round takes one sample of every device still present, stamped with the
// configured clock, and returns that round's samples.
func (s *Sampler) Round() []Sample { return s.RoundAt(s.now()) }

// RoundAt is Round with an explicit timestamp, for virtual-time runs where
// the simulator's clock, not the wall clock, says when a round happens.
// A device found gone yields one sample with Err and is skipped afterwards.
func (s *Sampler) RoundAt(t time.Time) []Sample { return s.round(t, false) }

// Mark takes a round now that also reads the energy counter. Call it at the
// edges of a measured window (end of warm-up, end of the point) so that the
// window's energy comes from the counter end to end.
func (s *Sampler) Mark() []Sample { return s.MarkAt(s.now()) }

// MarkAt is Mark with an explicit timestamp, for virtual time.
func (s *Sampler) MarkAt(t time.Time) []Sample { return s.round(t, true) }

// round reads every present device; the energy counter is read when forced
// or when EnergyInterval has passed since the device's last counter read.
func (s *Sampler) round(t time.Time, forceEnergy bool) []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := len(s.samples)
	for i := range s.devs {
		d := &s.devs[i]
		switch {
		case !d.lostAt.IsZero():
			continue
		case d.pending != "":
			d.lostAt, d.lostMsg = t, d.pending
			s.samples = append(s.samples, Sample{Time: t, Device: d.info.Index, Err: d.pending})
			continue
		}
		energy := forceEnergy || d.energyAt.IsZero() || t.Sub(d.energyAt) >= s.energyInterval
		if energy {
			d.energyAt = t
		}
		smp, err := readDevice(d.handle, d.info.Index, t, energy)
		if err != nil {
			d.lostAt, d.lostMsg = t, smp.Err
		}
		s.samples = append(s.samples, smp)
	}
	return append([]Sample(nil), s.samples[start:]...)
}

// Samples returns a copy of the series so far.
func (s *Sampler) Samples() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sample(nil), s.samples...)
}

// Window summarises each device over [t0, t1] (a zero bound is open), the
// per-point figure of a sweep. A device lost before t0 is reported Lost with
// no samples, so a point never silently omits a GPU.
func (s *Sampler) Window(t0, t1 time.Time) []Summary {
	s.mu.Lock()
	devs := append([]deviceState(nil), s.devs...)
	samples := s.samples
	s.mu.Unlock()
	infos := make([]Device, len(devs))
	for i, d := range devs {
		infos[i] = d.info
	}
	sums := Summarize(infos, samples, t0, t1)
	for i, d := range devs {
		if !d.lostAt.IsZero() && !t0.IsZero() && d.lostAt.Before(t0) {
			sums[i].Lost = true
			sums[i].Errors = append(sums[i].Errors, fmt.Sprintf("%s at %s", d.lostMsg, d.lostAt.Format(time.RFC3339Nano)))
		}
	}
	return sums
}

// ErrAlreadyStarted is returned by Start on a sampler that is running.
var ErrAlreadyStarted = errors.New("gpu: sampler already started")

// Start takes a first round now and then one every interval in the
// background until ctx ends or Stop is called; it is the per-sweep-point
// mode. Timestamps come from the configured clock.
func (s *Sampler) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.bg != nil {
		s.mu.Unlock()
		return ErrAlreadyStarted
	}
	ctx, cancel := context.WithCancel(ctx)
	bg := &background{cancel: cancel, done: make(chan struct{}), start: s.now()}
	s.bg = bg
	s.mu.Unlock()

	s.RoundAt(bg.start)
	go func() {
		defer close(bg.done)
		tick := time.NewTicker(s.interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				s.Round()
			}
		}
	}()
	return nil
}

// Stop ends the background loop, takes a closing round so the series spans
// the whole run, and returns everything sampled since Start with per-device
// summaries. Stop without Start returns what Round calls collected.
func (s *Sampler) Stop() Result {
	s.mu.Lock()
	bg := s.bg
	s.bg = nil
	s.mu.Unlock()
	var start time.Time
	if bg != nil {
		bg.cancel()
		<-bg.done
		start = bg.start
	}
	end := s.now()
	s.MarkAt(end)
	samples := s.Samples()
	if bg == nil && len(samples) > 0 {
		start = samples[0].Time
	}
	return Result{
		Available: true,
		Devices:   s.Devices(),
		Samples:   samples,
		Summaries: s.Window(start, end),
		Start:     start,
		End:       end,
	}
}
