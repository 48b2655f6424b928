package paramerr

import (
	"errors"
	"fmt"
)

// Error is a bad argument: Param names the parameter as the plan writes it.
type Error struct {
	Param string
	Err   error
}

func (e *Error) Error() string { return "for parameter " + e.Param + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// New formats the message like fmt.Errorf (so %w wraps) and names the parameter.
func New(param, format string, args ...any) error {
	return &Error{Param: param, Err: fmt.Errorf(format, args...)}
}

// Wrap names the parameter of an existing error; nil stays nil, and an error that already names
// a parameter keeps its own.
func Wrap(param string, err error) error {
	if err == nil {
		return nil
	}
	var pe *Error
	if errors.As(err, &pe) {
		return err
	}
	return &Error{Param: param, Err: err}
}
