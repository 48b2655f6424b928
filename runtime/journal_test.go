package runtime_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"starlab/runtime"
)

func TestJournalSurvivesATornLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, err := runtime.OpenJournal(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(runtime.JournalEntry{Key: "a#1", Result: json.RawMessage(`1`)}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	// A kill in the middle of a write leaves half a line.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"seq":2,"key":"b#1","res`)
	f.Close()

	j, err = runtime.OpenJournal(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if j.Skipped != 1 || j.Len() != 1 {
		t.Fatalf("skipped %d, len %d; want 1, 1", j.Skipped, j.Len())
	}
	if err := j.Append(runtime.JournalEntry{Key: "b#1", Result: json.RawMessage(`2`)}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j, _ = runtime.OpenJournal(path, true)
	if rec, ok := j.Lookup("b#1"); !ok || rec.Seq != 2 || string(rec.Result) != "2" {
		t.Fatalf("record after the torn line: %+v %v", rec, ok)
	}
}
