package sweep

import (
	"context"
	"errors"
	"math"
	"starlab/runtime/paramerr"
)

var nan = math.NaN()

// Config is one sweep() call: a list of load levels run in order with the same Options.
type Config struct {
	Name        string
	Rates       []float64 // open loop; exactly one of Rates / Concurrency
	Concurrency []int     // closed loop
	TimeScales  []float64 // trace replays (Options.Trace), one point per scale
	Ramp        bool      // one point: Options.Ramp
	Options     Options
	// Writer, if set, receives every record and the points after each point.
	Writer *Writer
	// Previous are points an earlier call measured for the same sweep: the result and the points
	// file start with them, and new points are numbered after them.
	Previous []Point
	// Repeats measures every load this many times, interleaved (repeatOrder), and gives one
	// point per load aggregated over its repeats (aggregateRepeats); 0 and 1 measure once.
	Repeats int
}

// Result is the sweep's outcome, in point order.
type Result struct {
	Name   string
	Points []Point
}

// Specs expands the config into point specs.
func (c *Config) Specs() ([]PointSpec, error) {
	kinds := 0
	for _, set := range []bool{len(c.Rates) > 0, len(c.Concurrency) > 0, len(c.TimeScales) > 0, c.Ramp} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return nil, paramerr.New("rates", "want exactly one of rates, concurrency, a trace's time scales or a ramp")
	}
	if c.Repeats < 0 {
		return nil, paramerr.New("repeats", "want a whole number >= 1, got %d", c.Repeats)
	}
	var specs []PointSpec
	first := len(c.Previous)
	for i, r := range c.Rates {
		if !(r > 0) {
			return nil, paramerr.New("rates", "element %d must be > 0, got %v", i, r)
		}
		specs = append(specs, PointSpec{Index: first + i, Rate: r})
	}
	for i, f := range c.TimeScales {
		if !(f > 0) {
			return nil, paramerr.New("time_scale", "element %d must be > 0, got %v", i, f)
		}
		specs = append(specs, PointSpec{Index: first + i, TimeScale: f})
	}
	if c.Ramp {
		specs = append(specs, PointSpec{Index: first, Ramp: true})
	}
	for i, n := range c.Concurrency {
		if n < 1 {
			return nil, paramerr.New("concurrency", "element %d must be >= 1, got %d", i, n)
		}
		specs = append(specs, PointSpec{Index: first + i, Concurrency: n})
	}
	return specs, nil
}

// Run runs a sweep against an HTTP server.
func Run(ctx context.Context, t Target, c Config) (*Result, error) {
	return c.run(ctx, func(ctx context.Context, o Options, s PointSpec) (Point, error) { return RunPoint(ctx, t, o, s) })
}

type pointFunc func(ctx context.Context, o Options, s PointSpec) (Point, error)

// RunWith runs the sweep with measure taking each point, for callers that wrap every point (the
// Starlark binding makes each a journal step and picks HTTP or virtual time per point).
func RunWith(ctx context.Context, c Config, measure func(ctx context.Context, o Options, s PointSpec) (Point, error)) (*Result, error) {
	return c.run(ctx, measure)
}

// PartialError is a point that was measured but must not be taken as complete (the server died
// under it): the sweep keeps the point in its outputs and stops with Err.
type PartialError struct{ Err error }

func (e *PartialError) Error() string { return e.Err.Error() }
func (e *PartialError) Unwrap() error { return e.Err }

func (c *Config) run(ctx context.Context, runPoint pointFunc) (*Result, error) {
	specs, err := c.Specs()
	if err != nil {
		return nil, err
	}
	res := &Result{Name: c.Name, Points: append([]Point{}, c.Previous...)}
	if c.Repeats > 1 {
		return c.runRepeats(ctx, runPoint, specs, res)
	}
	o := c.repeatOptions(0)
	for _, s := range specs {
		p, err := runPoint(ctx, o, s)
		var partial *PartialError
		if err != nil && ctx.Err() == nil && !errors.As(err, &partial) {
			return res, err
		}
		res.Points = append(res.Points, p)
		if werr := c.persist(res.Points); werr != nil {
			return res, werr
		}
		if err != nil {
			return res, err
		}
		o.Logger.Info().Str("point", s.String()).Int("completed", p.Completed).
			Int("failed", p.Failed).Float64("request_throughput", float64(p.RequestThroughput)).
			Float64("median_ttft_ms", float64(p.MedianTTFTMs)).Bool("stopped_early", p.StoppedEarly).Msg("sweep: point done")
	}
	return res, nil
}

// persist adds the last point's requests to the requests file and writes the points so far, so
// that a killed run keeps everything it measured.
func (c *Config) persist(points []Point) error {
	if c.Writer == nil {
		return nil
	}
	if err := c.Writer.CommitPoint(); err != nil {
		return err
	}
	return c.Writer.WritePoints(points)
}
