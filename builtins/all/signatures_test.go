package all_test

import (
	"testing"

	_ "starlab/builtins/all"
	"starlab/runtime"
)

// Every builtin's documented signature (what `starlab doc` prints) names the parameters its
// binding unpacks, in order, with the same defaults: the reference cannot drift from the code.
func TestSignaturesMatchBindings(t *testing.T) {
	builtins := runtime.Builtins()
	if len(builtins) < 15 {
		t.Fatalf("only %d builtins registered", len(builtins))
	}
	for _, b := range builtins {
		if err := runtime.CheckSignature(b); err != nil {
			t.Error(err)
		}
	}
}
