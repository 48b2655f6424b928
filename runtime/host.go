package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"starlab/stats"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.starlark.net/lib/json"
	"go.starlark.net/lib/math"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// Options is one invocation of a plan: `starlab run`, `run --resume` or `replay`.
type Options struct {
	PlanPath string
	Sets     map[string]string
	Seed     uint64
	SeedSet  bool   // --seed was given (resume and replay otherwise take the recorded seed)
	Out      string // --out: the run directory; default runs/<UTC timestamp>-<plan name>
	Resume   string // run directory to continue
	Replay   string // run directory whose journal answers every step
	Virtual  bool
	// DryRun runs the plan as Virtual does, in a temporary directory removed at the end, and has
	// every server start say what it would launch (command, environment, GPUs, Slurm script).
	DryRun bool
	// Confidence is the level of the run's intervals and decisions; 0 means 0.95 (or, resuming,
	// the recorded level).
	Confidence float64
	// EngineCmds: --engine-cmd NAME=CMD by engine name (vllm, sglang, llama.cpp, ollama).
	EngineCmds map[string]string
	// LogOut receives the run's log as the user wants it (console or JSON); run.log in the run
	// directory always gets JSON. Nil means stderr.
	LogOut   io.Writer
	LogLevel zerolog.Level
	// PrintOut receives the plan's print() lines, plainly (nil: stdout); the run directory keeps
	// a copy in output.txt.
	PrintOut io.Writer
	Args     []string // the command line, for the manifest
	// Extra names added to every plan's predeclared names (the assert module in script tests).
	Extra starlark.StringDict
	// Hooks run after the run is set up and before the plan executes (the GPU inventory joins
	// the manifest this way without the runtime knowing about GPUs).
	Hooks []func(*Run)
}

// Outcome says how a plan ended and where its results are.
type Outcome struct {
	Dir    string
	Status string // "ok", "error", "interrupted"
	Err    error
	// RealTime says, for a --virtual run, how long the same plan would take on real servers.
	RealTime string
}

// DefaultSeed is the run seed when --seed is not given, so two plain runs make the same choices.
const DefaultSeed = 1

// Execute runs a plan to completion. Usage errors come back as *UsageError before anything is
// written; once the run directory exists every outcome, including a failure, is recorded in it.
func Execute(ctx context.Context, opts Options) (*Outcome, error) {
	modeCount := 0
	for _, s := range []string{opts.Resume, opts.Replay} {
		if s != "" {
			modeCount++
		}
	}
	if modeCount > 1 {
		return nil, Usagef("--resume and replay cannot be combined")
	}
	if opts.DryRun {
		if modeCount > 0 || opts.Out != "" {
			return nil, Usagef("--dry-run runs a plan afresh and keeps nothing: no --resume, replay or --out")
		}
		tmp, err := os.MkdirTemp("", "starlab-dry-run-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		opts.Virtual, opts.Out = true, filepath.Join(tmp, "run")
	}
	mode := Fresh
	srcDir := ""
	switch {
	case opts.Resume != "":
		mode, srcDir = Resume, opts.Resume
	case opts.Replay != "":
		mode, srcDir = Replay, opts.Replay
	}

	var recorded *Manifest
	if srcDir != "" {
		m, err := LoadManifest(filepath.Join(srcDir, "manifest.json"))
		if err != nil {
			return nil, Usagef("%s is not a readable run directory: %v", srcDir, err)
		}
		if _, ok := m.Get("plan"); !ok {
			return nil, Usagef("%s has no manifest.json: not a run directory", srcDir)
		}
		recorded = m
		if err := inheritRecorded(&opts, m); err != nil {
			return nil, err
		}
	}
	if opts.Confidence == 0 {
		opts.Confidence = stats.DefaultLevel
	}
	if !stats.ValidLevel(opts.Confidence) {
		return nil, Usagef("--confidence %g: want a level between 0.5 and 1, e.g. 0.95", opts.Confidence)
	}
	if opts.PlanPath == "" {
		return nil, Usagef("no plan given")
	}
	src, err := os.ReadFile(opts.PlanPath)
	if err != nil {
		return nil, Usagef("cannot read plan: %v", err)
	}
	// Everything that can be known without running is checked first: a typo on the last line of
	// a plan must not cost an hour of measurements.
	if _, err := Check(opts.PlanPath, opts.Sets, opts.Extra); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(src)
	planSHA := hex.EncodeToString(sum[:])

	dir, err := runDir(mode, opts, srcDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// One run per directory, from here to the end: the check below and the journal's creation
	// happen under the lock, so two runs started together cannot both pass the check.
	lock, err := lockRunDir(dir, false)
	if err != nil {
		return nil, err
	}
	defer lock.release(true)
	if mode == Replay {
		src, err := lockRunDir(srcDir, true)
		if err != nil {
			return nil, err
		}
		defer src.release(false)
	}
	if mode == Fresh && exists(filepath.Join(dir, "journal.jsonl")) {
		return nil, Usagef("%s already holds a run: continue it with --resume %s, or choose another --out", dir, dir)
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "run.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	logOut := opts.LogOut
	if logOut == nil {
		logOut = os.Stderr
	}
	log := zerolog.New(zerolog.MultiLevelWriter(logOut, logFile)).Level(opts.LogLevel).With().Timestamp().Logger()
	// The plan's own output: every run (a resume re-executes the plan from the top) writes it
	// whole.
	outputFile, err := os.Create(filepath.Join(dir, "output.txt"))
	if err != nil {
		return nil, err
	}
	defer outputFile.Close()
	printOut := opts.PrintOut
	if printOut == nil {
		printOut = os.Stdout
	}

	manifest, err := LoadManifest(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	started := time.Now().UTC()
	if recorded != nil && mode == Resume {
		if old, _ := recorded.Get("plan"); old != nil {
			if p, ok := old.(map[string]any); ok && p["sha256"] != planSHA {
				log.Warn().Str("plan", opts.PlanPath).Msg("the plan changed since the run started; completed steps are still taken from the journal by their keys")
			}
		}
	}
	fields := map[string]any{
		"plan":       map[string]any{"path": opts.PlanPath, "sha256": planSHA},
		"sets":       opts.Sets,
		"seed":       opts.Seed,
		"confidence": opts.Confidence,
		"mode":       mode.String(),
		"virtual":    opts.Virtual,
		"starlab":    Version(),
		"go":         goruntime.Version(),
		"host":       hostInfo(),
		"args":       opts.Args,
		"status":     "running",
		"error":      nil,
		"end":        nil,
	}
	switch mode {
	case Resume:
		resumes, _ := manifest.Get("resumes")
		list, _ := resumes.([]any)
		fields["resumes"] = append(list, started.Format(time.RFC3339Nano))
	case Replay:
		fields["replay_of"] = srcDir
		fields["start"] = started.Format(time.RFC3339Nano)
	default:
		fields["start"] = started.Format(time.RFC3339Nano)
	}
	if err := manifest.Update(fields); err != nil {
		return nil, err
	}

	journalPath := filepath.Join(dir, "journal.jsonl")
	if mode == Replay {
		journalPath = filepath.Join(srcDir, "journal.jsonl")
	}
	journal, err := OpenJournal(journalPath, mode == Replay)
	if err != nil {
		return nil, err
	}
	defer journal.Close()
	if journal.Skipped > 0 {
		log.Warn().Int("lines", journal.Skipped).Msg("journal: skipped torn or unreadable lines (a run killed mid-write leaves one)")
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	run := &Run{
		Ctx: runCtx, Dir: dir, Seed: opts.Seed, Mode: mode, Virtual: opts.Virtual, DryRun: opts.DryRun, Log: log, Confidence: opts.Confidence,
		EngineCmds: opts.EngineCmds, PlanPath: opts.PlanPath,
		journal: journal, manifest: manifest,
		params:   &paramSet{sets: opts.Sets, values: map[string]starlark.Value{}},
		printOut: io.MultiWriter(printOut, outputFile),
		fileLog:  zerolog.New(logFile).With().Timestamp().Logger(),
	}
	for _, h := range append(registeredRunHooks(), opts.Hooks...) {
		h(run)
	}
	log.Info().Str("plan", opts.PlanPath).Str("dir", dir).Str("mode", mode.String()).Uint64("seed", opts.Seed).
		Int("journaled_steps", journal.Len()).Msg("run started")

	execErr := run.execPlan(opts.PlanPath, src, opts.Extra)
	run.close()

	out := &Outcome{Dir: dir, Status: "ok", Err: execErr}
	end := map[string]any{"end": time.Now().UTC().Format(time.RFC3339Nano), "exit": 0}
	if total, parts, line, ok := run.RealTimeEstimate(); ok {
		secs := map[string]float64{}
		for k, d := range parts {
			secs[k] = d.Seconds()
		}
		end["real_time_estimate"] = map[string]any{"total_s": total.Seconds(), "parts_s": secs}
		out.RealTime = line
	}
	if execErr != nil {
		out.Status = "error"
		end["exit"] = 1
		if ctx.Err() != nil {
			out.Status = "interrupted"
			end["exit"] = 130
		}
		end["error"] = FormatError(execErr)
	}
	end["status"] = out.Status
	if err := manifest.Update(end); err != nil {
		log.Error().Err(err).Msg("writing manifest.json")
	}
	switch out.Status {
	case "ok":
		log.Info().Str("dir", dir).Msg("run finished")
	case "interrupted":
		log.Warn().Str("dir", dir).Msg("run interrupted; completed steps are in the journal: continue with --resume")
	default:
		log.Error().Str("dir", dir).Msg("run failed; completed steps are in the journal: fix the plan and continue with --resume")
	}
	return out, nil
}

// inheritRecorded takes the seed, params and plan of the run being resumed or replayed, so the
// continuation makes the same random choices. Conflicting values on the command line are errors.
func inheritRecorded(opts *Options, m *Manifest) error {
	if v, ok := m.Get("seed"); ok {
		if f, ok := v.(float64); ok {
			if opts.SeedSet && uint64(f) != opts.Seed {
				return Usagef("--seed %d differs from the recorded seed %d of this run", opts.Seed, uint64(f))
			}
			opts.Seed = uint64(f)
		}
	}
	if v, ok := m.Get("confidence"); ok {
		if f, ok := v.(float64); ok && f > 0 {
			if opts.Confidence != 0 && opts.Confidence != f {
				return Usagef("--confidence %g differs from the recorded level %g of this run", opts.Confidence, f)
			}
			opts.Confidence = f
		}
	}
	if v, ok := m.Get("sets"); ok {
		rec := map[string]string{}
		if mm, ok := v.(map[string]any); ok {
			for k, x := range mm {
				rec[k] = fmt.Sprint(x)
			}
		}
		if len(opts.Sets) > 0 && opts.Resume != "" && !equalSets(opts.Sets, rec) {
			return Usagef("--set values differ from the recorded ones of this run (%s)", formatSets(rec))
		}
		if len(opts.Sets) == 0 {
			opts.Sets = rec
		}
	}
	if opts.PlanPath == "" {
		if v, ok := m.Get("plan"); ok {
			if p, ok := v.(map[string]any); ok {
				opts.PlanPath, _ = p["path"].(string)
			}
		}
	}
	if v, ok := m.Get("virtual"); ok && v == true {
		opts.Virtual = true
	}
	return nil
}

func equalSets(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func formatSets(s map[string]string) string {
	var parts []string
	for k, v := range s {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

func runDir(mode Mode, opts Options, srcDir string) (string, error) {
	switch mode {
	case Resume:
		if opts.Out != "" && filepath.Clean(opts.Out) != filepath.Clean(srcDir) {
			return "", Usagef("--out cannot be combined with --resume: a resumed run continues in its own directory")
		}
		return srcDir, nil
	case Replay:
		if opts.Out != "" {
			return opts.Out, nil
		}
		return filepath.Join(srcDir, "replay-"+time.Now().UTC().Format("20060102T150405Z")), nil
	}
	dir := opts.Out
	if dir == "" {
		name := strings.TrimSuffix(filepath.Base(opts.PlanPath), filepath.Ext(opts.PlanPath))
		base := filepath.Join("runs", time.Now().UTC().Format("20060102T150405Z")+"-"+name)
		// Two runs of one plan started in the same second get directories of their own.
		dir = base
		for i := 2; exists(dir); i++ {
			dir = fmt.Sprintf("%s-%d", base, i)
		}
	}
	return dir, nil // whether it already holds a run is checked under its lock
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func hostInfo() map[string]any {
	name, _ := os.Hostname()
	return map[string]any{"hostname": name, "os": goruntime.GOOS, "arch": goruntime.GOARCH, "cpus": goruntime.NumCPU()}
}

// Predeclared returns the names every plan sees: the registered builtins and the standard
// modules json, math and struct.
func Predeclared() starlark.StringDict {
	d := starlark.StringDict{
		"json":   json.Module,
		"math":   math.Module,
		"struct": starlark.NewBuiltin("struct", starlarkstruct.Make),
	}
	for _, b := range Builtins() {
		d[b.Name] = starlark.NewBuiltin(b.Name, Qualified(b.Fn))
	}
	return d
}

// execPlan executes the plan on a thread of this run, with cancellation wired to the context.
func (r *Run) execPlan(planPath string, src []byte, extra starlark.StringDict) error {
	var mu sync.Mutex
	var threads []*starlark.Thread
	cancelled := false
	newThread := func(name string) *starlark.Thread {
		th := &starlark.Thread{Name: name, Print: r.print}
		th.SetLocal(runKey, r)
		for _, f := range r.onThread {
			f(th)
		}
		mu.Lock()
		threads = append(threads, th)
		if cancelled {
			th.Cancel("interrupted")
		}
		mu.Unlock()
		return th
	}
	stop := context.AfterFunc(r.Ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		cancelled = true
		for _, th := range threads {
			th.Cancel("interrupted")
		}
	})
	defer stop()

	name := displayPath(mustAbs(planPath))
	predeclared := Predeclared()
	for k, v := range extra {
		predeclared[k] = v
	}
	l := &loader{predeclared: predeclared, cache: map[string]*loadEntry{}}
	l.newThread = func(n string) *starlark.Thread {
		th := newThread(n)
		th.Load = l.load
		return th
	}
	l.cache[mustAbs(planPath)] = &loadEntry{name: name}
	l.stack = []string{name}
	th := l.newThread(name)
	_, err := starlark.ExecFileOptions(Dialect, th, name, src, l.predeclared)
	return err
}

func mustAbs(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return abs
}

// print writes a plan's print() to stdout and output.txt as it is, and to run.log with the
// caller's file:line (not to the console log, which would show it twice).
func (r *Run) print(thread *starlark.Thread, msg string) {
	r.mu.Lock()
	fmt.Fprintln(r.printOut, msg)
	r.mu.Unlock()
	r.fileLog.Info().Str("at", callerPos(thread)).Str("print", msg).Msg("print")
}
