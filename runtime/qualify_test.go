package runtime

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"starlab/runtime/paramerr"
)

func TestQualifyErrorOnce(t *testing.T) {
	missing := &ReplayMissingError{Key: "k", Pos: "p"}
	cases := []struct {
		err  error
		want string
	}{
		{paramerr.New("rates", "got string, want list of numbers"), "sweep: for parameter rates: got string, want list of numbers"},
		{fmt.Errorf(`sweep: for parameter "rates": got string, want list`), "sweep: for parameter rates: got string, want list"},
		{errors.New("sweep: already qualified"), "sweep: already qualified"},
		{fmt.Errorf("reading prompts.jsonl:2: %w", io.ErrUnexpectedEOF), "sweep: reading prompts.jsonl:2: unexpected EOF"},
		{missing, missing.Error()},
	}
	for _, c := range cases {
		got := QualifyError("sweep", c.err)
		if got.Error() != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
		if !errors.Is(got, c.err) {
			t.Errorf("%q does not wrap the original", got)
		}
	}
	if QualifyError("sweep", nil) != nil {
		t.Error("nil stays nil")
	}
}
