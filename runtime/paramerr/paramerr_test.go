package paramerr

import (
	"errors"
	"io"
	"testing"
)

func TestMessageAndWrapping(t *testing.T) {
	err := New("rates", "element %d: %w", 2, io.ErrUnexpectedEOF)
	if got, want := err.Error(), "for parameter rates: element 2: unexpected EOF"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal("New must wrap with %w")
	}
	if Wrap("x", err) != err {
		t.Fatal("Wrap must keep the parameter an error already names")
	}
	if Wrap("x", nil) != nil {
		t.Fatal("Wrap(nil) must be nil")
	}
	if got := Wrap("gpus", io.EOF).Error(); got != "for parameter gpus: EOF" {
		t.Fatalf("got %q", got)
	}
}
