package runtime

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.starlark.net/starlark"
)

// Mode says where step results come from.
type Mode int

const (
	// Fresh executes every step and journals its result.
	Fresh Mode = iota
	// Resume takes completed steps from an earlier journal and executes the rest.
	Resume
	// Replay takes every step from the journal and fails on the first it has no record for.
	Replay
)

func (m Mode) String() string {
	switch m {
	case Resume:
		return "resume"
	case Replay:
		return "replay"
	}
	return "run"
}

// Run is everything a builtin may reach of the running plan. Builtins get it with FromThread.
type Run struct {
	// Ctx is cancelled on Ctrl-C/SIGTERM; every blocking builtin watches it.
	Ctx context.Context
	// Dir is the run directory; Path makes files in it.
	Dir string
	// Seed is the run seed (--seed); DeriveSeed gives per-step seeds from it.
	Seed uint64
	// Mode is fresh, resume or replay.
	Mode Mode
	// Virtual makes every server the simulator in virtual time (--virtual).
	Virtual bool
	// DryRun (--dry-run, with Virtual) makes builtins that would launch something say what, on
	// stdout, instead.
	DryRun bool
	// Log is the run's logger; builtins add their own fields.
	Log zerolog.Logger
	// EngineCmds are the commands that start engines, by engine name (--engine-cmd NAME=CMD,
	// --vllm-cmd); an engine not in it is found through its STARLAB_<ENGINE> variable or on PATH.
	EngineCmds map[string]string
	// PlanPath is the plan being run, as given on the command line.
	PlanPath string
	// Confidence is the level of every interval and decision of the run (--confidence, default
	// stats.DefaultLevel).
	Confidence float64

	journal  *Journal
	manifest *Manifest
	params   *paramSet
	printOut io.Writer      // print(): stdout and output.txt
	real     realTime       // --virtual: the time the run would take on real servers
	fileLog  zerolog.Logger // run.log alone

	mu       sync.Mutex
	ordinals map[string]int
	closers  []func()
	state    map[any]any
	onThread []func(*starlark.Thread)
}

// Say writes text to the run's output (stdout and output.txt) as print() does: what a dry run
// would launch.
func (r *Run) Say(text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprint(r.printOut, text)
}

// OnThread registers a function applied to every Starlark thread of the run as it is made (the
// plan's and each loaded module's); hooks use it to attach thread-local values.
func (r *Run) OnThread(f func(*starlark.Thread)) {
	r.onThread = append(r.onThread, f)
}

const runKey = "starlab.run"

// Level is the run's confidence level: Confidence, or 0.95 for a run made without one (tests).
func (r *Run) Level() float64 {
	if r.Confidence == 0 {
		return 0.95
	}
	return r.Confidence
}

// FromThread returns the run a thread belongs to. Builtins call it instead of reading globals, so
// several runs can share a process (tests do).
func FromThread(thread *starlark.Thread) *Run {
	r, _ := thread.Local(runKey).(*Run)
	if r == nil {
		panic("runtime.FromThread: thread was not made by the runtime")
	}
	return r
}

// Path returns the absolute path of a file in the run directory, creating its parent directories.
func (r *Run) Path(rel string) (string, error) {
	p := filepath.Join(r.Dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	return p, nil
}

// DeriveSeed returns a seed for one random stream of the run (a sweep point's arrivals, a
// dataset's lengths) from the run seed and a key, so every random choice is reproducible and
// independent of the order in which other streams are drawn.
func (r *Run) DeriveSeed(key string) uint64 {
	return DeriveSeed(r.Seed, key)
}

// DeriveSeed mixes a seed and a key with FNV-1a and a final avalanche, for streams that must not be
// correlated when their keys differ in one character.
func DeriveSeed(seed uint64, key string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(seed >> (8 * i))
	}
	h.Write(b[:])
	h.Write([]byte(key))
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// OnClose registers a function that runs when the plan ends, however it ends (success, error,
// Ctrl-C). Closers run in reverse order; servers use it so that nothing outlives the run.
func (r *Run) OnClose(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closers = append(r.closers, f)
}

func (r *Run) close() {
	r.mu.Lock()
	closers := r.closers
	r.closers = nil
	r.mu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
}

// State returns the run's value for key, creating it with init on first use. Domain packages keep
// their per-run state here (the servers a plan started, the sweeps it ran) instead of in globals.
// init runs without the run's lock held, so it may register closers.
func State[T any](r *Run, key any, init func() T) T {
	r.mu.Lock()
	v, ok := r.state[key]
	r.mu.Unlock()
	if ok {
		return v.(T)
	}
	created := init()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state == nil {
		r.state = map[any]any{}
	}
	if v, ok := r.state[key]; ok {
		return v.(T) // made meanwhile by another goroutine: keep the first
	}
	r.state[key] = created
	return created
}

// SetManifest records a field in manifest.json (for example the GPU inventory), written at once.
func (r *Run) SetManifest(key string, value any) error {
	if r.manifest == nil {
		return nil
	}
	return r.manifest.Set(key, value)
}

// Sleep waits for d or until ctx is cancelled, whichever comes first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
