package runtime

import (
	"errors"
	"fmt"
	"strings"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// UsageError is a mistake on the command line (a bad flag, an unknown --set name): exit status 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef makes a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{fmt.Errorf(format, args...)}
}

// FormatError renders an error for the terminal and the manifest. A Starlark evaluation error
// becomes one backtrace running from the plan through every loaded module down to the deepest
// frame, so an error inside @stdlib//x.star still shows the plan line that led there. Syntax and
// resolve errors show file:line:col.
func FormatError(err error) string {
	var evalErrs []*starlark.EvalError
	for e := err; e != nil; e = errors.Unwrap(e) {
		if ee, ok := e.(*starlark.EvalError); ok {
			evalErrs = append(evalErrs, ee)
		}
	}
	if len(evalErrs) > 0 {
		var stack starlark.CallStack
		for _, ee := range evalErrs {
			stack = append(stack, ee.CallStack...)
		}
		deepest := evalErrs[len(evalErrs)-1]
		stack = dropBuiltinLoads(stack)
		// Builtin errors already name the builtin ("sweep: for parameter rates: ..."): drop the
		// backtrace's own "Error in sweep:" rather than say it twice.
		if n := len(stack); n > 0 && stack[n-1].Pos.Filename() == "<builtin>" && strings.HasPrefix(deepest.Msg, stack[n-1].Name+": ") {
			stack = stack[:n-1]
		}
		combined := &starlark.EvalError{Msg: deepest.Msg, CallStack: stack}
		msg := combined.Backtrace()
		// The deepest error may itself wrap a syntax error in a loaded module.
		if inner := syntaxDetail(deepest); inner != "" {
			msg += "\n" + inner
		}
		return msg
	}
	if s := syntaxDetail(err); s != "" {
		return s
	}
	return err.Error()
}

// dropBuiltinLoads removes frames of a builtin other than the last: a load chain leaves no
// builtin frames, but a builtin that called back into Starlark does and they only add noise.
func dropBuiltinLoads(stack starlark.CallStack) starlark.CallStack {
	out := stack[:0:0]
	for i, fr := range stack {
		if i < len(stack)-1 && fr.Pos.Filename() == "<builtin>" {
			continue
		}
		out = append(out, fr)
	}
	return out
}

func syntaxDetail(err error) string {
	var se syntax.Error
	if errors.As(err, &se) {
		return fmt.Sprintf("%s: syntax error: %s", se.Pos, se.Msg)
	}
	var el resolve.ErrorList
	if errors.As(err, &el) {
		lines := make([]string, len(el))
		for i, e := range el {
			lines[i] = fmt.Sprintf("%s: %s", e.Pos, e.Msg)
		}
		return strings.Join(lines, "\n")
	}
	return ""
}
