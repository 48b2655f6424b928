package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"go.starlark.net/starlark"
)

// JournalEntry is one completed step in journal.jsonl.
type JournalEntry struct {
	Seq     int             `json:"seq"`
	Key     string          `json:"key"`
	Builtin string          `json:"builtin"`
	Args    string          `json:"args"`
	Ordinal int             `json:"ordinal"`
	Pos     string          `json:"pos,omitempty"`
	Started time.Time       `json:"started"`
	Ended   time.Time       `json:"ended"`
	Result  json.RawMessage `json:"result"`
}

// Journal is the append-only record of completed steps. Each record is written and fsync'd as soon
// as its step completes, so a run killed at any moment keeps every step it finished.
type Journal struct {
	mu       sync.Mutex
	path     string
	f        *os.File // nil when read-only (replay)
	recorded map[string]JournalEntry
	seq      int
	// Skipped counts torn or unreadable lines found when the journal was opened (a run killed in
	// the middle of a write leaves at most one).
	Skipped int
}

// OpenJournal reads the records already at path, if any, and opens it for appending unless
// readOnly. A missing file is an empty journal.
func OpenJournal(path string, readOnly bool) (*Journal, error) {
	j := &Journal{path: path, recorded: map[string]JournalEntry{}}
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	if readOnly && os.IsNotExist(err) {
		return nil, fmt.Errorf("no journal at %s", path)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var rec JournalEntry
		if err := json.Unmarshal(line, &rec); err != nil || rec.Key == "" {
			j.Skipped++
			continue
		}
		j.recorded[rec.Key] = rec
		if rec.Seq > j.seq {
			j.seq = rec.Seq
		}
	}
	if readOnly {
		return j, nil
	}
	// A torn final line (no newline) must not glue itself to the next record.
	if len(data) > 0 && data[len(data)-1] != '\n' {
		if err := appendBytes(path, []byte("\n")); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	j.f = f
	return j, nil
}

func appendBytes(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Lookup returns the recorded result of a step.
func (j *Journal) Lookup(key string) (JournalEntry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	rec, ok := j.recorded[key]
	return rec, ok
}

// Len is the number of recorded steps.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.recorded)
}

// Append writes a completed step and syncs it to disk before returning.
func (j *Journal) Append(rec JournalEntry) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return fmt.Errorf("journal %s is read-only", j.path)
	}
	j.seq++
	rec.Seq = j.seq
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if _, err := j.f.Write(append(line, '\n')); err != nil {
		return err
	}
	if err := j.f.Sync(); err != nil {
		return err
	}
	j.recorded[rec.Key] = rec
	return nil
}

// Close closes the journal file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// ReplayMissingError is returned in replay mode for the first step the journal has no record of.
type ReplayMissingError struct {
	Key string
	Pos string
}

func (e *ReplayMissingError) Error() string {
	return fmt.Sprintf("replay: the journal has no record of step %s (called at %s); only steps of the original run can be replayed", e.Key, e.Pos)
}

// Step runs fn as a journaled step keyed by the builtin's name and canonical arguments. In a fresh
// run fn executes and its result is journaled; with --resume a recorded result is returned without
// executing fn; in replay a step without a record is an error. The result goes through JSON in
// every mode, so a plan sees exactly the same values whether a step ran or was replayed.
func Step[T any](thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple, fn func(ctx context.Context) (T, error)) (T, error) {
	return KeyedStep(thread, b.Name(), CanonicalArgs(args, kwargs), fn)
}

// KeyedStep is Step with an explicit key, for builtins that make several steps per call (a sweep
// journals each load point as its own step, so --resume skips the points already measured).
func KeyedStep[T any](thread *starlark.Thread, name, args string, fn func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	r := FromThread(thread)
	ordinal := r.nextOrdinal(name, args)
	key := fmt.Sprintf("%s(%s)#%d", name, args, ordinal)
	pos := callerPos(thread)

	if r.Mode != Fresh {
		if rec, ok := r.journal.Lookup(key); ok {
			var out T
			if err := json.Unmarshal(rec.Result, &out); err != nil {
				return zero, fmt.Errorf("%s: journal record %d is unreadable: %v", name, rec.Seq, err)
			}
			r.Log.Debug().Str("step", key).Msg("step taken from the journal")
			return out, nil
		}
		if r.Mode == Replay {
			return zero, &ReplayMissingError{Key: key, Pos: pos}
		}
	}
	if err := r.Ctx.Err(); err != nil {
		return zero, fmt.Errorf("%s: %w", name, err)
	}
	started := time.Now().UTC()
	res, err := fn(r.Ctx)
	if err != nil {
		return zero, err
	}
	data, err := json.Marshal(res)
	if err != nil {
		return zero, fmt.Errorf("%s: cannot journal the result: %v", name, err)
	}
	rec := JournalEntry{Key: key, Builtin: name, Args: args, Ordinal: ordinal, Pos: pos, Started: started, Ended: time.Now().UTC(), Result: data}
	if err := r.journal.Append(rec); err != nil {
		return zero, fmt.Errorf("%s: writing the journal: %v", name, err)
	}
	var out T
	if err := json.Unmarshal(data, &out); err != nil {
		return zero, fmt.Errorf("%s: the result does not round-trip through the journal: %v", name, err)
	}
	return out, nil
}

// StepValue is Step for builtins whose result is a Starlark value (see EncodeValue).
func StepValue(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple, fn func(ctx context.Context) (starlark.Value, error)) (starlark.Value, error) {
	res, err := Step(thread, b, args, kwargs, func(ctx context.Context) (journaledValue, error) {
		v, err := fn(ctx)
		return journaledValue{v}, err
	})
	return res.v, err
}

// journaledValue carries a Starlark value through encoding/json.
type journaledValue struct{ v starlark.Value }

func (jv journaledValue) MarshalJSON() ([]byte, error) { return EncodeValue(jv.v) }

func (jv *journaledValue) UnmarshalJSON(data []byte) error {
	v, err := DecodeValue(data)
	jv.v = v
	return err
}

func (r *Run) nextOrdinal(name, args string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ordinals == nil {
		r.ordinals = map[string]int{}
	}
	k := name + "\x00" + args
	r.ordinals[k]++
	return r.ordinals[k]
}

// callerPos is the position of the Starlark call that invoked the running builtin.
func callerPos(thread *starlark.Thread) string {
	for i := 0; i < thread.CallStackDepth(); i++ {
		fr := thread.CallFrame(i)
		if fr.Pos.IsValid() && fr.Pos.Filename() != "<builtin>" {
			return fr.Pos.String()
		}
	}
	return "?"
}
