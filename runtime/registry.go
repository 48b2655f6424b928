package runtime

import (
	"fmt"
	"sort"
	"sync"

	"go.starlark.net/starlark"
)

// Builtin is a function that plans can call, with the documentation `starlab doc` prints.
//
// # Adding a builtin (the recipe every domain package follows)
//
// A domain package under builtins/ keeps its engine in plain Go and adds a binding of a couple of
// dozen lines per builtin. This one takes two arguments and returns a struct-like result
// (recipe_test.go runs it; stop_vllm in builtins/server/binding.go is the smallest real one):
//
//	func init() {
//		runtime.Register(runtime.Builtin{
//			Name:      "span",
//			Signature: `span(start, width=1.0)`,
//			Doc:       "The interval [start, start + width] and its midpoint.",
//			Fn:        span,
//		})
//	}
//
//	func span(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
//		var start float64
//		width := 1.0
//		if err := runtime.UnpackArgs(thread, b, args, kwargs, "start", &start, "width?", &width); err != nil {
//			return nil, err // "span: for parameter width: ..."
//		}
//		s, err := NewSpan(start, width) // the engine: plain Go, a paramerr.Error for a bad argument
//		if err != nil {
//			return nil, err // the host adds "span: "
//		}
//		return runtime.NewObject("Span", starlark.StringDict{
//			"lo":  starlark.Float(s.Lo),
//			"hi":  starlark.Float(s.Hi),
//			"mid": starlark.Float(s.Mid()),
//		}), nil
//	}
//
// Rules: the engine never imports Starlark and never writes the builtin's name (the host
// qualifies every error once: "span: for parameter width: ..."); arguments are unpacked first,
// with runtime.UnpackArgs, whose destinations hold the defaults the Signature documents
// (CheckSignature compares them, for every builtin, in a test); None-default parameters are
// runtime.Opt, lists and dicts runtime.Strings, runtime.Floats, runtime.StringMap,
// runtime.FloatMap, durations runtime.Duration; results are runtime.Object (attributes, dir(),
// json.encode, journal codec), with methods from runtime.Method; run state (context, logger, run
// directory, seed, options) comes from runtime.FromThread(thread), never from globals; anything
// with a side effect or a cost (a server, a measurement) goes through Step so that --resume and
// replay skip it; a blocking builtin watches ctx. The package joins the binary with a blank import
// in builtins/all.
type Builtin struct {
	Name      string
	Signature string // as plans call it, with defaults: `sweep(server, rates=None, ...)`
	Doc       string // first line is the summary; the rest is printed by `starlab doc NAME`
	Fn        func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error)
}

var (
	registryMu sync.Mutex
	registry   = map[string]Builtin{}
)

// Register adds a builtin to every plan's predeclared names. It panics on a duplicate name, which
// is a programming error caught by any test that links both packages.
func Register(b Builtin) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if b.Name == "" || b.Fn == nil {
		panic("runtime.Register: builtin needs a name and a function")
	}
	if _, dup := registry[b.Name]; dup {
		panic(fmt.Sprintf("runtime.Register: builtin %q registered twice", b.Name))
	}
	registry[b.Name] = b
}

// Builtins returns the registered builtins sorted by name.
func Builtins() []Builtin {
	registryMu.Lock()
	defer registryMu.Unlock()
	out := make([]Builtin, 0, len(registry))
	for _, b := range registry {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the registered builtin with the given name.
func Lookup(name string) (Builtin, bool) {
	registryMu.Lock()
	defer registryMu.Unlock()
	b, ok := registry[name]
	return b, ok
}

var runHooks []func(*Run)

// RegisterRunHook adds a function that runs when a run is set up, before the plan executes, for
// packages that contribute to every run (the GPU package writes the device inventory into the
// manifest and tells the server manager how many GPUs there are). Call it from init.
func RegisterRunHook(f func(*Run)) {
	registryMu.Lock()
	defer registryMu.Unlock()
	runHooks = append(runHooks, f)
}

func registeredRunHooks() []func(*Run) {
	registryMu.Lock()
	defer registryMu.Unlock()
	return append([]func(*Run){}, runHooks...)
}
