package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/rs/zerolog"
	"golang.org/x/term"

	_ "starlab/builtins/all"
	"starlab/builtins/report"
	"starlab/builtins/server"
	"starlab/builtins/sim"
	"starlab/builtins/sweep"
	"starlab/runtime"
)

// command is one subcommand. The one table in commands drives both the dispatch in cli and the
// usage text, so a subcommand cannot be reachable yet missing from --help.
type command struct {
	name  string
	usage []usageLine // at least one; each is printed as "starlab NAME ARGS   WHAT"
	run   func(args []string, stdout, stderr io.Writer) (int, error)
}

// usageLine is one way to call a subcommand and what it does.
type usageLine struct{ args, what string }

// commands is a function, not a variable, because help's entry prints the usage built from it.
func commands() []command {
	return []command{
		{"run", []usageLine{
			{"PLAN.star [flags]", "run a plan; results go to a new run directory"},
			{"--resume RUNDIR [PLAN.star]", "continue a killed or failed run"},
		}, func(args []string, stdout, stderr io.Writer) (int, error) { return runCmd(args, stdout, stderr, false) }},
		{"replay", []usageLine{
			{"RUNDIR [--plan EDITED.star]", "rerun the plan from recorded results only"},
		}, func(args []string, stdout, stderr io.Writer) (int, error) { return runCmd(args, stdout, stderr, true) }},
		{"check", []usageLine{
			{"PLAN.star [--set name=value]...", "type-check a plan and its params; runs nothing"},
		}, func(args []string, stdout, _ io.Writer) (int, error) { return 0, checkCmd(args, stdout) }},
		{"doc", []usageLine{
			{"[NAME|PLAN.star|@stdlib//MODULE.star]", "list builtins; document one, a plan or a module"},
		}, func(args []string, stdout, _ io.Writer) (int, error) { return 0, docCmd(args, stdout) }},
		{"report", []usageLine{
			{"RUNDIR", "rebuild a run's report.md/json, plots and CSVs"},
		}, func(args []string, stdout, _ io.Writer) (int, error) { return 0, reportCmd(args, stdout) }},
		{"compare", []usageLine{
			{"RUNDIR RUNDIR... [--metric M] [--out DIR]", "compare the same sweeps across runs, manifest differences first"},
		}, func(args []string, stdout, stderr io.Writer) (int, error) { return 0, compareCmd(args, stdout, stderr) }},
		{"export", []usageLine{
			{"RUNDIR --format vllm-bench [--out DIR]", "write every point as a vllm bench serve result JSON"},
		}, exportCmd},
		{"sim", []usageLine{
			{"serve MODEL [vllm serve flags]", "serve the simulator as vLLM would, until Ctrl-C"},
		}, func(args []string, stdout, stderr io.Writer) (int, error) { return simCmd(args, stdout, stderr), nil }},
		{"tiny-gguf", []usageLine{
			{"--out PATH [--dim N --layers N --seed N ...]", "write a random-weight llama GGUF with the Llama-3 vocabulary"},
		}, tinyGGUFCmd},
		{"version", []usageLine{
			{"", "print starlab's and Go's versions"},
		}, func(_ []string, stdout, _ io.Writer) (int, error) {
			fmt.Fprintf(stdout, "starlab %s (%s)\n", runtime.Version(), goVersion())
			return 0, nil
		}},
		{"help", []usageLine{
			{"", "print this text (also -h, --help)"},
		}, func(_ []string, stdout, _ io.Writer) (int, error) {
			fmt.Fprint(stdout, usage())
			return 0, nil
		}},
	}
}

// usage is the text of `starlab help`: every subcommand of commands, one line per way to call it.
func usage() string {
	var sb strings.Builder
	sb.WriteString("starlab runs experiment plans (Starlark .star files) for LLM inference servers.\n\nUsage:\n")
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	for _, c := range commands() {
		for _, u := range c.usage {
			fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace("starlab "+c.name+" "+u.args), u.what)
		}
	}
	tw.Flush()
	sb.WriteString(`
Run and replay flags: --set name=value (repeatable), --seed N, --confidence LEVEL, --out DIR, --virtual,
  --engine-cmd ENGINE=CMD (repeatable; --vllm-cmd CMD is --engine-cmd vllm=CMD),
  --log-level debug|info|warn|error, --log-format auto|console|json (starlab run -h explains each).
Exit status: 0 ok, 1 the plan failed, 2 usage error, 130 interrupted.
`)
	return sb.String()
}

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
}

// cli is main without the process exit, so tests run the real command line in-process.
func cli(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return 2
	}
	name, rest := args[0], args[1:]
	if name == "-h" || name == "--help" {
		name = "help"
	}
	if name == sweep.WorkerCommandName {
		return sweepWorkerCmd(rest, stdout, stderr)
	}
	var cmd *command
	for _, c := range commands() {
		if c.name == name {
			cmd = &c
			break
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "starlab %s: unknown command %q\n\n%s", name, name, usage())
		return 2
	}
	code, err := cmd.run(rest, stdout, stderr)
	if err != nil {
		var ue *runtime.UsageError
		if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
			if !errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(stderr, "starlab %s: %v\n", name, err)
			}
			return 2
		}
		fmt.Fprintf(stderr, "starlab %s: %s\n", name, runtime.FormatError(err))
		return 1
	}
	return code
}

func goVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		return info.GoVersion
	}
	return "go"
}

// sets collects repeated --set name=value flags.
type sets map[string]string

func (s sets) String() string { return fmt.Sprint(map[string]string(s)) }
func (s sets) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("want name=value, got %q", v)
	}
	s[name] = value
	return nil
}

// parseInterspersed parses flags that may come before or after positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// checkEngineCmds folds --vllm-cmd into --engine-cmd and checks the engine names.
func checkEngineCmds(cmds sets, vllmCmd string) error {
	if vllmCmd != "" {
		if c, ok := cmds[server.EngineVLLM]; ok && c != vllmCmd {
			return runtime.Usagef("--vllm-cmd %q and --engine-cmd vllm=%q disagree: give one", vllmCmd, c)
		}
		cmds[server.EngineVLLM] = vllmCmd
	}
	envs := server.ExecutableEnvs()
	for name, c := range cmds {
		if _, ok := envs[name]; !ok {
			return runtime.Usagef("--engine-cmd %s=...: want an engine that starts as a process (vllm, sglang, llama.cpp or ollama), got %q", name, name)
		}
		if strings.TrimSpace(c) == "" {
			return runtime.Usagef("--engine-cmd %s=: the command is empty", name)
		}
	}
	return nil
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func runCmd(args []string, stdout, stderr io.Writer, replay bool) (int, error) {
	name := "run"
	if replay {
		name = "replay"
	}
	fs := newFlagSet(name, stderr)
	set := sets{}
	fs.Var(set, "set", "plan parameter `name=value` (repeatable)")
	seed := fs.Uint64("seed", runtime.DefaultSeed, "run seed: every random choice derives from it")
	out := fs.String("out", "", "run directory (default runs/<UTC timestamp>-<plan name>)")
	resume := fs.String("resume", "", "continue the run in `RUNDIR`: completed steps come from its journal")
	plan := fs.String("plan", "", "replay: the plan to run instead of the recorded one (an edited analysis)")
	confidence := fs.Float64("confidence", 0, "confidence `LEVEL` of every interval and verdict (default 0.95; resume and replay keep the recorded one)")
	virtual := fs.Bool("virtual", false, "run every server as the simulator in virtual time")
	dryRun := fs.Bool("dry-run", false, "say what the plan would launch (commands, environment, GPUs, Slurm jobs) and how long it would take, running it in virtual time and keeping nothing")
	engineCmds := sets{}
	fs.Var(engineCmds, "engine-cmd", "command that starts an engine, `NAME=CMD` (repeatable; NAME vllm, sglang, llama.cpp or ollama; env STARLAB_VLLM, STARLAB_SGLANG, STARLAB_LLAMA_CPP, STARLAB_OLLAMA; default on PATH)")
	vllmCmd := fs.String("vllm-cmd", "", "command that starts vLLM: --engine-cmd vllm=`CMD`")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "auto", "auto (console on a terminal, JSON otherwise), console or json")
	quiet := fs.Bool("quiet", false, "log only warnings and errors (the plan's print() output still goes to stdout)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2, &runtime.UsageError{Err: err}
	}
	if err := checkEngineCmds(engineCmds, *vllmCmd); err != nil {
		return 2, err
	}
	opts := runtime.Options{Sets: set, Seed: *seed, Confidence: *confidence, Out: *out, Virtual: *virtual, DryRun: *dryRun,
		EngineCmds: engineCmds, Args: append([]string{name}, args...)}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "seed" {
			opts.SeedSet = true
		}
	})
	if replay {
		if len(pos) != 1 || *resume != "" {
			return 2, runtime.Usagef("want: starlab replay RUNDIR [--plan EDITED.star]")
		}
		opts.Replay, opts.PlanPath = pos[0], *plan
	} else {
		if *plan != "" {
			return 2, runtime.Usagef("--plan is for replay; run takes the plan as its argument")
		}
		switch {
		case *resume != "" && len(pos) <= 1:
			opts.Resume = *resume
			if len(pos) == 1 {
				opts.PlanPath = pos[0]
			}
		case len(pos) == 1:
			opts.PlanPath = pos[0]
		default:
			return 2, runtime.Usagef("want: starlab run PLAN.star [flags], or starlab run --resume RUNDIR [PLAN.star]")
		}
	}
	if opts.LogLevel, err = zerolog.ParseLevel(*logLevel); err != nil || *logLevel == "" {
		return 2, runtime.Usagef("--log-level: want debug, info, warn or error, got %q", *logLevel)
	}
	if *quiet && opts.LogLevel < zerolog.WarnLevel {
		opts.LogLevel = zerolog.WarnLevel
	}
	opts.PrintOut = stdout
	if opts.LogOut, err = logOutput(*logFormat, stderr); err != nil {
		return 2, err
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopSignals := onSignals(cancel, stderr)
	defer stopSignals()

	outcome, err := runtime.Execute(ctx, opts)
	if err != nil {
		return 2, err
	}
	if opts.DryRun {
		if outcome.RealTime != "" {
			fmt.Fprintln(stdout, outcome.RealTime)
		}
		if outcome.Status == "ok" {
			fmt.Fprintln(stderr, "dry run: nothing was started and nothing was kept")
			return 0, nil
		}
		fmt.Fprintf(stderr, "%s\n", runtime.FormatError(outcome.Err))
		return 1, nil
	}
	if outcome.RealTime != "" {
		fmt.Fprintln(stderr, outcome.RealTime)
	}
	switch outcome.Status {
	case "ok":
		fmt.Fprintf(stderr, "results: %s\n", outcome.Dir)
		return 0, nil
	case "interrupted":
		fmt.Fprintf(stderr, "interrupted; partial results: %s (continue with: starlab run --resume %s)\n", outcome.Dir, outcome.Dir)
		return 130, nil
	}
	fmt.Fprintf(stderr, "%s\npartial results: %s\n", runtime.FormatError(outcome.Err), outcome.Dir)
	return 1, nil
}

// onSignals cancels the run on the first SIGINT/SIGTERM and exits at once on the second.
func onSignals(cancel func(), stderr io.Writer) func() {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
			fmt.Fprintln(stderr, "stopping: servers are being shut down and partial results written (press Ctrl-C again to exit at once)")
			cancel()
		case <-done:
			return
		}
		select {
		case <-ch:
			fmt.Fprintln(stderr, "exiting at once")
			os.Exit(130)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}

func logOutput(format string, stderr io.Writer) (io.Writer, error) {
	tty := false
	if f, ok := stderr.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	switch format {
	case "json":
		return stderr, nil
	case "console":
		return zerolog.ConsoleWriter{Out: stderr, NoColor: !tty, TimeFormat: "15:04:05"}, nil
	case "auto":
		if tty {
			return zerolog.ConsoleWriter{Out: stderr, TimeFormat: "15:04:05"}, nil
		}
		return stderr, nil
	}
	return nil, runtime.Usagef("--log-format: want auto, console or json, got %q", format)
}

func checkCmd(args []string, stdout io.Writer) error {
	fs := newFlagSet("check", stdout)
	set := sets{}
	fs.Var(set, "set", "plan parameter `name=value` (repeatable)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return &runtime.UsageError{Err: err}
	}
	if len(pos) != 1 {
		return runtime.Usagef("want: starlab check PLAN.star [--set name=value]...")
	}
	rep, err := runtime.Check(pos[0], set, nil)
	if err != nil {
		return err
	}
	files := "files"
	if len(rep.Files) == 1 {
		files = "file"
	}
	fmt.Fprintf(stdout, "%s: ok (%d %s: %s)\n", pos[0], len(rep.Files), files, strings.Join(rep.Files, ", "))
	writeParams(stdout, rep.Params)
	return nil
}

func writeParams(w io.Writer, params []runtime.ParamDecl) {
	if len(params) == 0 {
		fmt.Fprintln(w, "params: none")
		return
	}
	fmt.Fprintln(w, "params:")
	for _, p := range params {
		def := "(computed)"
		if p.Default != nil {
			def = p.Default.String()
		}
		fmt.Fprintf(w, "  %-20s default %-16s %s  [%s]\n", p.Name, def, p.Doc, p.Pos)
	}
}

func docCmd(args []string, stdout io.Writer) error {
	if len(args) > 1 {
		return runtime.Usagef("want: starlab doc [NAME | PLAN.star | @stdlib//MODULE.star | --markdown]")
	}
	if len(args) == 0 {
		fmt.Fprint(stdout, runtime.DocIndex())
		return nil
	}
	arg := args[0]
	if arg == "--markdown" {
		fmt.Fprint(stdout, runtime.DocMarkdown())
		return nil
	}
	switch {
	case strings.HasPrefix(arg, runtime.StdlibPrefix):
		text, err := runtime.DocModule(arg)
		if err != nil {
			return runtime.Usagef("%v", err)
		}
		fmt.Fprint(stdout, text)
	case strings.HasSuffix(arg, ".star"):
		decls, err := runtime.ScanParams(arg)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", arg)
		writeParams(stdout, decls)
	default:
		text, ok := runtime.DocBuiltin(arg)
		if !ok {
			return runtime.Usagef("no builtin %q (starlab doc lists them)", arg)
		}
		fmt.Fprint(stdout, text)
	}
	return nil
}

func reportCmd(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return runtime.Usagef("want: starlab report RUNDIR")
	}
	if err := report.Regenerate(args[0]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n", filepath.Join(args[0], "report.md"))
	return nil
}

// simCmd is `starlab sim serve`: the simulator answering as vLLM would, until SIGINT/SIGTERM.
func simCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "serve" {
		fmt.Fprintln(stderr, "usage: starlab sim serve MODEL [vllm serve flags] [--sim-gpu NAME] [--sim-startup-delay D] [--sim-* faults]")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return sim.ServeMain(ctx, args[1:], stdout, stderr)
}
