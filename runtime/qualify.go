package runtime

import (
	"errors"
	"regexp"
	"strings"

	"go.starlark.net/starlark"
)

// BuiltinFunc is the Go side of a builtin or of a method on a result value.
type BuiltinFunc = func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error)

// Qualified wraps a builtin so that its errors are qualified exactly once, where they leave it:
// engines and bindings return plain errors (a paramerr.Error for a bad argument) and the plan sees
// "sweep: for parameter rates: ...", however the argument was passed.
func Qualified(fn BuiltinFunc) BuiltinFunc {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		v, err := fn(thread, b, args, kwargs)
		return v, QualifyError(b.Name(), err)
	}
}

// Method makes a bound method of a result value (knee.around, scaling.predict) with the same
// error qualification as a builtin.
func Method(name string, fn BuiltinFunc) *starlark.Builtin {
	return starlark.NewBuiltin(name, Qualified(fn))
}

// quotedParam matches go.starlark.net's argument errors for keyword arguments, which quote the
// parameter name ("for parameter \"rates\"") where positional ones do not.
var quotedParam = regexp.MustCompile(`(^|: )for parameter "([A-Za-z_][A-Za-z0-9_]*)":`)

// QualifyError prefixes err with the builtin's name unless it already starts with it. Errors of
// Starlark code the builtin called back into, and replay's missing-step error, pass unchanged.
func QualifyError(name string, err error) error {
	if err == nil {
		return nil
	}
	var evalErr *starlark.EvalError
	var missing *ReplayMissingError
	if errors.As(err, &evalErr) || errors.As(err, &missing) {
		return err
	}
	msg := quotedParam.ReplaceAllString(err.Error(), "${1}for parameter $2:")
	if !strings.HasPrefix(msg, name+": ") {
		msg = name + ": " + msg
	}
	return &qualifiedError{msg: msg, err: err}
}

type qualifiedError struct {
	msg string
	err error
}

func (e *qualifiedError) Error() string { return e.msg }
func (e *qualifiedError) Unwrap() error { return e.err }
