package runtime

import (
	"fmt"
	"regexp"
	"strings"

	"go.starlark.net/starlark"
)

// MaxNameLen bounds a name a plan gives: it becomes part of file names (servers/NAME.log,
// sweeps/NAME.requests.jsonl, Slurm job names) that must stay under the file system's 255 bytes.
const MaxNameLen = 100

var fileNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// CheckFileName is the one rule for every name a plan gives that becomes a file or directory name
// in the run directory (servers, sweeps, tables, plots, calibrations, loaded results): letters,
// digits, '_', '.' and '-', starting with a letter or digit, at most MaxNameLen bytes. So no name
// can climb out of the run directory ("../x", "/etc/x"), hide ('.x'), or carry a separator or a
// NUL.
func CheckFileName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("want a name, got an empty one")
	case len(name) > MaxNameLen:
		return fmt.Errorf("%q is %d bytes long; a name is at most %d", name[:20]+"...", len(name), MaxNameLen)
	case !fileNameRE.MatchString(name):
		return fmt.Errorf("%q is not a file name: use letters, digits, '_', '.' and '-', starting with a letter or digit", name)
	}
	return nil
}

// SafeFileName turns s (a model path, a title) into a name CheckFileName accepts, for names
// starlab makes itself: other characters become '-', and it is cut to MaxNameLen.
func SafeFileName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 128 && (r == '_' || r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'):
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.TrimLeft(b.String(), "_.-")
	if len(out) > MaxNameLen {
		out = out[:MaxNameLen]
	}
	if out == "" {
		out = "unnamed"
	}
	return out
}

// FileName unpacks a name that becomes a file name, checked by CheckFileName.
type FileName string

// Unpack implements starlark.Unpacker.
func (n *FileName) Unpack(v starlark.Value) error {
	s, ok := v.(starlark.String)
	if !ok {
		return fmt.Errorf("got %s, want string", v.Type())
	}
	if err := CheckFileName(string(s)); err != nil {
		return err
	}
	*n = FileName(s)
	return nil
}
