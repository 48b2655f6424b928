package text

import (
	"math"
	"math/big"

	"go.starlark.net/starlark"

	"starlab/runtime"
	"starlab/runtime/paramerr"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name:      "fmt",
		Signature: `fmt(format, *args)`,
		Doc: `Formats args printf-style, with the precision Starlark's % operator lacks:
fmt("%.2f req/s", x), fmt("%6.1f%%", 100 * share), fmt("%-12s %d", name, n), fmt("%.3g", x).
Verbs d i f F e E g G x X o s r v and %%, with flags - + space 0 #, width and precision, as Go's
fmt does them; %s and %v write str(x) (lists included), %r repr(x); %d truncates a float; a number
verb given None writes None (a knee not found yet), given another non-number it is an error;
inf and nan print as str() prints them (+inf, nan). Too few or too many arguments, and a number verb given
something else, are errors that name the argument.`,
		Fn: fmtBuiltin,
	})
	runtime.Register(runtime.Builtin{
		Name:      "round",
		Signature: `round(x, ndigits=None)`,
		Doc: `Python's round: round(x) is the nearest int (halves to even: round(2.5) == 2); round(x, n)
the float nearest to x rounded to n decimals (halves to even on the exact binary value, so
round(2.675, 2) == 2.67); n may be negative (round(1234, -2) == 1200; an int stays an int). inf and nan stay as
they are with ndigits and are errors without (they have no int).`,
		Fn: roundBuiltin,
	})
}

func fmtBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var format string
	if err := runtime.UnpackArgs(thread, b, args[:min(len(args), 1)], kwargs, "format", &format); err != nil {
		return nil, err
	}
	list := make([]Arg, len(args)-1)
	for i, v := range args[1:] {
		list[i] = argOf(v)
	}
	s, err := Format(format, list)
	if err != nil {
		return nil, paramerr.New("args", "%v", err)
	}
	return starlark.String(s), nil
}

func argOf(v starlark.Value) Arg {
	a := Arg{Repr: v.String(), Str: v.String()}
	switch x := v.(type) {
	case starlark.String:
		a.Str = string(x)
	case starlark.Int:
		a.IsNum = true
		if i, ok := x.Int64(); ok {
			a.Int = &i
			a.Num = float64(i)
		} else {
			f, _ := new(big.Float).SetInt(x.BigInt()).Float64()
			a.Num = f
		}
	case starlark.Float:
		a.IsNum, a.Num = true, float64(x)
	case starlark.NoneType:
		a.IsNone = true
	}
	return a
}

func roundBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x starlark.Value
	var nd runtime.Opt[int]
	if err := runtime.UnpackArgs(thread, b, args, kwargs, "x", &x, "ndigits?", &nd); err != nil {
		return nil, err
	}
	if i, ok := x.(starlark.Int); ok {
		if !nd.Set || nd.V >= 0 {
			return i, nil
		}
		f, _ := starlark.AsFloat(i)
		return starlark.NumberToInt(starlark.Float(Round(f, nd.V))) // Python keeps an int an int
	}
	f, ok := starlark.AsFloat(x)
	if !ok {
		return nil, paramerr.New("x", "got %s, want a number", x.Type())
	}
	if !nd.Set {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, paramerr.New("x", "%v has no nearest int", starlark.Float(f))
		}
		return starlark.NumberToInt(starlark.Float(math.RoundToEven(f)))
	}
	return starlark.Float(Round(f, nd.V)), nil
}
