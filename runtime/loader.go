package runtime

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"go.starlark.net/starlark"

	"starlab/stdlib"
)

// StdlibPrefix marks modules embedded in the binary: load("@stdlib//loads.star", "geometric").
const StdlibPrefix = "@stdlib//"

// loader resolves load() for one run: "@stdlib//NAME.star" from the embedded stdlib, anything else
// relative to the directory of the file that loads it. Each module executes once per run (cache),
// and a module that loads itself through a chain is reported with the whole chain.
type loader struct {
	newThread   func(name string) *starlark.Thread
	predeclared starlark.StringDict
	cache       map[string]*loadEntry
	stack       []string // display names of modules being loaded, outermost first
}

type loadEntry struct {
	globals starlark.StringDict
	err     error
	done    bool
	name    string
}

// moduleSource is a resolved module: a cache identity, a display name for positions, and its text.
type moduleSource struct {
	id, name string
	src      []byte
}

// resolveModule finds module as loaded from the file named from.
func resolveModule(from, module string) (moduleSource, error) {
	if strings.HasPrefix(module, StdlibPrefix) {
		return readStdlib(strings.TrimPrefix(module, StdlibPrefix))
	}
	if strings.HasPrefix(from, StdlibPrefix) && !filepath.IsAbs(module) {
		// Relative loads inside the stdlib stay inside it.
		return readStdlib(path.Join(path.Dir(strings.TrimPrefix(from, StdlibPrefix)), module))
	}
	p := module
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(from), module)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return moduleSource{}, err
	}
	src, err := os.ReadFile(abs)
	if err != nil {
		if os.IsNotExist(err) {
			return moduleSource{}, fmt.Errorf("cannot load %s: no file %s", module, displayPath(abs))
		}
		return moduleSource{}, fmt.Errorf("cannot load %s: %v", module, err)
	}
	return moduleSource{id: abs, name: displayPath(abs), src: src}, nil
}

func readStdlib(name string) (moduleSource, error) {
	src, err := fs.ReadFile(stdlib.FS, name)
	if err != nil {
		return moduleSource{}, fmt.Errorf("cannot load %s%s: no such stdlib module (have: %s)", StdlibPrefix, name, strings.Join(StdlibModules(), ", "))
	}
	return moduleSource{id: StdlibPrefix + name, name: StdlibPrefix + name, src: src}, nil
}

// StdlibModules lists the embedded modules by file name.
func StdlibModules() []string {
	entries, _ := fs.ReadDir(stdlib.FS, ".")
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".star") {
			names = append(names, e.Name())
		}
	}
	return names
}

// displayPath shortens an absolute path to one relative to the working directory when it is
// inside it, so positions read "experiments/hello.star:3:1".
func displayPath(abs string) string {
	wd, err := os.Getwd()
	if err != nil {
		return abs
	}
	rel, err := filepath.Rel(wd, abs)
	if err != nil || strings.HasPrefix(rel, "..") {
		return abs
	}
	return rel
}

func (l *loader) load(thread *starlark.Thread, module string) (starlark.StringDict, error) {
	from := thread.CallFrame(0).Pos.Filename()
	ms, err := resolveModule(from, module)
	if err != nil {
		return nil, err
	}
	if e, ok := l.cache[ms.id]; ok {
		if !e.done {
			return nil, fmt.Errorf("load cycle: %s", l.cycle(ms.name))
		}
		return e.globals, e.err
	}
	e := &loadEntry{name: ms.name}
	l.cache[ms.id] = e
	l.stack = append(l.stack, ms.name)
	defer func() { l.stack = l.stack[:len(l.stack)-1] }()

	th := l.newThread(ms.name)
	e.globals, e.err = starlark.ExecFileOptions(Dialect, th, ms.name, ms.src, l.predeclared)
	e.done = true
	if e.globals != nil {
		e.globals.Freeze()
	}
	return e.globals, e.err
}

// cycle renders the chain from the first load of name back to name.
func (l *loader) cycle(name string) string {
	start := 0
	for i, n := range l.stack {
		if n == name {
			start = i
			break
		}
	}
	chain := append([]string{}, l.stack[start:]...)
	return strings.Join(append(chain, name), " -> ")
}
