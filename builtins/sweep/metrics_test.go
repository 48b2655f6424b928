package sweep

import (
	"context"
	"testing"
	"time"

	"starlab/builtins/consistency"
)

// Measured points pass their own consistency checks, below and above capacity, open and closed
// loop; a closed-loop sweep on the simulator passes the table check that seed 004's table fails.
func TestMeasuredPointsAreConsistent(t *testing.T) {
	ds, err := NewRandom(RandomSpec{InputLen: 256, OutputLen: 32, RangeRatio: 0.5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions(t)
	o.Dataset, o.Duration, o.Warmup, o.Timeout = ds, 30*time.Second, 5*time.Second, time.Hour
	var closed []consistency.Fields
	for _, tc := range []struct {
		spec  PointSpec
		cap   int // open-loop max_concurrency
		n     int // num_requests (closed loop)
		wants []string
	}{
		{PointSpec{Rate: 9}, 0, 0, []string{consistency.Tokens, consistency.OfferedLoad}},
		{PointSpec{Rate: 9}, 16, 0, []string{consistency.LittlesLaw, consistency.Tokens, consistency.OfferedLoad}},
		{PointSpec{Rate: 46}, 0, 0, []string{consistency.Tokens, consistency.OfferedLoad}},
		{PointSpec{Concurrency: 1}, 0, 0, []string{consistency.LittlesLaw, consistency.Tokens}},
		{PointSpec{Concurrency: 8}, 0, 0, []string{consistency.LittlesLaw, consistency.Tokens}},
		{PointSpec{Concurrency: 64}, 0, 0, []string{consistency.LittlesLaw, consistency.Tokens}},
		{PointSpec{Concurrency: 8}, 0, 40, []string{consistency.LittlesLaw, consistency.Tokens}},
		{PointSpec{Concurrency: 64}, 0, 200, []string{consistency.LittlesLaw, consistency.Tokens}},
	} {
		o := o
		o.MaxConcurrency, o.NumRequests = tc.cap, tc.n
		p, err := RunVirtualPoint(context.Background(), simServer(t), o, tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		ran := map[string]bool{}
		for _, c := range p.Checks {
			t.Logf("%v cap %d n %d: %s %v: %s", tc.spec, tc.cap, tc.n, c.Name, c.OK, c.Detail)
			ran[c.Name] = true
			if !c.OK {
				t.Errorf("%v cap %d n %d: %s failed: %s", tc.spec, tc.cap, tc.n, c.Name, c.Detail)
			}
		}
		for _, name := range tc.wants {
			if !ran[name] {
				t.Errorf("%v: %s did not run (checks %+v)", tc.spec, name, p.Checks)
			}
		}
		if tc.spec.Concurrency > 0 && tc.n == 0 {
			closed = append(closed, consistency.OfPoint(&p))
		}
	}
	table := consistency.Table(closed)
	if len(table) != len(closed) {
		t.Fatalf("table checks %+v", table)
	}
	for _, c := range table {
		t.Logf("table: %s", c.Detail)
		if !c.OK {
			t.Errorf("closed-loop sweep flagged: %s", c.Detail)
		}
	}
}
