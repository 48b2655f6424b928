package runtime

import (
	"strings"
	"testing"
)

func TestCheckFileName(t *testing.T) {
	for _, ok := range []string{"ramp", "ramp-1gpu", "Llama-3.1-8B_v2", "a", strings.Repeat("x", MaxNameLen)} {
		if err := CheckFileName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "../../escaped", "..", ".", "/etc/passwd", "a/b", `a\b`, ".hidden", "-flag",
		"nul\x00byte", "new\nline", "sp ace", "é", strings.Repeat("x", MaxNameLen+1)} {
		if err := CheckFileName(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
	for in, want := range map[string]string{"my model": "my-model", "../x": "x", "": "unnamed", "Llama-3.1-8B": "Llama-3.1-8B"} {
		if got := SafeFileName(in); got != want || CheckFileName(got) != nil {
			t.Errorf("SafeFileName(%q) = %q, want %q", in, got, want)
		}
	}
}
