package report

import (
	"reflect"
	goruntime "runtime"
	"strings"
	"testing"

	"starlab/runtime"
)

// TestSignatures checks every builtin this package registers: its documented signature (what
// `starlab doc` prints) names the parameters the binding unpacks, in order, with the same defaults.
func TestSignatures(t *testing.T) {
	checked := 0
	for _, b := range runtime.Builtins() {
		fn := goruntime.FuncForPC(reflect.ValueOf(b.Fn).Pointer()).Name()
		if !strings.HasPrefix(fn, "starlab/builtins/report.") {
			continue
		}
		checked++
		if err := runtime.CheckSignature(b); err != nil {
			t.Error(err)
		}
	}
	if checked != 3 {
		t.Errorf("checked %d builtins, want the 3 of this package", checked)
	}
}
