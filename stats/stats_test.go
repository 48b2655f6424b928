package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestCriticalValues(t *testing.T) {
	for _, c := range []struct {
		got, want float64
	}{
		{Z(0.95), 1.959964}, {Z(0.9), 1.644854}, {T(0.95, 9), 2.262157}, {T(0.95, 2), 4.302653},
		{T(0.95, math.Inf(1)), 1.959964},
	} {
		if !near(c.got, c.want, 1e-5) {
			t.Errorf("got %v, want %v", c.got, c.want)
		}
	}
	if !math.IsNaN(T(0.95, 0)) {
		t.Error("T with 0 degrees of freedom must be NaN")
	}
}

// Garwood's interval for 10 events in 1 s is the textbook [4.795, 18.390].
func TestPoissonInterval(t *testing.T) {
	ci := PoissonInterval(10, 1, 0.95)
	if !near(ci.Lo, 4.7954, 1e-3) || !near(ci.Hi, 18.3904, 1e-3) {
		t.Fatalf("PoissonInterval(10) = %v", ci)
	}
	if z := PoissonInterval(0, 2, 0.95); z.Lo != 0 || !near(z.Hi, 3.6889/2, 1e-3) {
		t.Fatalf("PoissonInterval(0) = %v", z)
	}
}

// poissonTimes draws a Poisson process of rate over window.
func poissonTimes(rng *rand.Rand, rate, window float64) []float64 {
	var out []float64
	for t := rng.ExpFloat64() / rate; t < window; t += rng.ExpFloat64() / rate {
		out = append(out, t)
	}
	return out
}

// The 95% rate interval covers the true rate of a Poisson process in about 95% of windows, both
// with batch means (many events) and with the exact count interval (few).
func TestRateIntervalCoverage(t *testing.T) {
	for _, c := range []struct {
		name         string
		rate, window float64
	}{{"batch means", 5, 20}, {"batch means, long", 50, 60}, {"few events", 1, 10}} {
		rng := rand.New(rand.NewPCG(7, 1))
		hit := 0
		const runs = 2000
		for range runs {
			_, ci := RateInterval(poissonTimes(rng, c.rate, c.window), nil, c.window, 0.95)
			if ci.Contains(c.rate) {
				hit++
			}
		}
		cover := float64(hit) / runs
		if cover < 0.93 || cover > 0.985 {
			t.Errorf("%s: coverage %.3f, want about 0.95", c.name, cover)
		}
	}
}

// Regular (constant-rate) events have a narrow interval; a Poisson process of the same rate a
// wide one: batch means sees the difference, a count interval would not.
func TestRateIntervalSeesRegularity(t *testing.T) {
	var regular []float64
	for i := range 200 {
		regular = append(regular, (float64(i)+0.5)/10)
	}
	r, ci := RateInterval(regular, nil, 20, 0.95)
	if r != 10 || ci.HalfWidth() > 0.5 {
		t.Fatalf("constant arrivals: rate %v interval %v, want 10 with a narrow interval", r, ci)
	}
	_, pci := RateInterval(poissonTimes(rand.New(rand.NewPCG(3, 3)), 10, 20), nil, 20, 0.95)
	if pci.HalfWidth() < 5*ci.HalfWidth() {
		t.Fatalf("Poisson interval %v not much wider than the regular one %v", pci, ci)
	}
}

// The bootstrap interval of the median of exponential samples covers the true median (ln 2) in
// about 95% of samples, and the same seed gives the same interval.
func TestBootstrapCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 2))
	hits := map[Stat]int{}
	truth := map[Stat]float64{StatMean: 1, StatMedian: math.Ln2, StatP90: math.Log(10)}
	const runs = 400
	for i := range runs {
		x := make([]float64, 300)
		for j := range x {
			x[j] = rng.ExpFloat64()
		}
		ci := Bootstrap{Level: 0.95, Seed: uint64(i)}.Summary(x)
		for s, v := range truth {
			if ci[s].Contains(v) {
				hits[s]++
			}
		}
	}
	for s := range truth {
		cover := float64(hits[s]) / runs
		if cover < 0.91 || cover > 0.98 {
			t.Errorf("%s: coverage %.3f, want about 0.95", s, cover)
		}
	}
	x := []float64{5, 1, 4, 2, 3, 9, 7, 6, 8, 10}
	a, b := Bootstrap{Level: 0.95, Seed: 4}.Summary(x), Bootstrap{Level: 0.95, Seed: 4}.Summary(x)
	for _, s := range Stats {
		if a[s] != b[s] {
			t.Fatalf("%s: same seed, different intervals %v %v", s, a[s], b[s])
		}
		if a[s].Unknown() {
			t.Fatalf("%s: no interval for 10 values", s)
		}
	}
	if !(Bootstrap{Level: 0.95}).Summary([]float64{1})[StatMedian].Unknown() {
		t.Fatal("one value must give no interval")
	}
}

// Counting resamples by rank gives the same quantiles as sorting the resample.
func TestQuantileOfCounts(t *testing.T) {
	sorted := []float64{1, 2, 3, 5, 8}
	counts := []int32{2, 0, 1, 0, 2} // 1 1 3 8 8
	for _, q := range []float64{0, 0.5, 0.9, 0.99, 1} {
		if got, want := quantileOfCounts(sorted, counts, q), Quantile([]float64{1, 1, 3, 8, 8}, q); got != want {
			t.Errorf("q=%v: got %v want %v", q, got, want)
		}
	}
}

func TestRatioInterval(t *testing.T) {
	// Every batch delivered exactly 90% of what it was sent: the ratio is known exactly.
	num := []float64{9, 18, 27, 9}
	den := []float64{10, 20, 30, 10}
	r, ci, ok := RatioInterval(num, den, 0.95)
	if !ok || !near(r, 0.9, 1e-12) || !near(ci.HalfWidth(), 0, 1e-12) {
		t.Fatalf("ratio %v %v %v", r, ci, ok)
	}
	if _, _, ok := RatioInterval([]float64{1}, []float64{0}, 0.95); ok {
		t.Fatal("zero denominator must not give a ratio")
	}
	ri := RatioOf(10, Interval{9, 11}, 5, Interval{4.5, 5.5}, 0.95)
	if !ri.Contains(2) || ri.Lo < 1.6 || ri.Hi > 2.5 {
		t.Fatalf("RatioOf = %v", ri)
	}
}

func TestTwoSampleTests(t *testing.T) {
	a := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	b := []float64{11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
	if u, p := MannWhitney(a, b); u != 100 || p > 0.001 {
		t.Errorf("separated samples: U=%v p=%v", u, p)
	}
	if _, p := MannWhitney(a, a); p < 0.9 {
		t.Errorf("identical samples: p=%v", p)
	}
	if d := CliffsDelta(a, b); d != 1 {
		t.Errorf("Cliff's delta %v, want 1", d)
	}
	if d := CliffsDelta(b, a); d != -1 {
		t.Errorf("Cliff's delta %v, want -1", d)
	}
	tt, df, p := WelchT(a, b)
	if !near(tt, 7.385489, 1e-5) || !near(df, 18, 1e-9) || p > 1e-6 {
		t.Errorf("Welch t=%v df=%v p=%v", tt, df, p)
	}
	c := CompareSamples(a, b, StatMedian, 0.95, 1)
	if c.Ratio <= 1 || !c.RatioCI.Contains(c.Ratio) || c.RatioCI.Lo <= 1 || !c.Significant(0.95) {
		t.Errorf("CompareSamples: %+v", c)
	}
	e := CompareEstimates(10, Interval{9, 11}, 10.5, Interval{9.5, 11.5}, 0.95)
	if e.Significant(0.95) || !e.DifferenceCI.Contains(0) {
		t.Errorf("overlapping estimates called different: %+v", e)
	}
	rep := CompareReplicates([]float64{10, 10.2, 9.9}, []float64{12, 12.1, 11.8}, 0.95)
	if !rep.Significant(0.95) || rep.DifferenceCI.Lo <= 0 {
		t.Errorf("replicates: %+v", rep)
	}
}

func TestDecisions(t *testing.T) {
	ci := Interval{2.9, 3.9}
	for _, c := range []struct {
		op   string
		thr  float64
		want Verdict
	}{
		{">=", 2.5, Supported}, {">=", 3, Inconclusive}, {">=", 4, Refuted},
		{"<", 4, Supported}, {"<", 3.9, Inconclusive}, {"<", 2.9, Refuted}, {"<=", 3.9, Supported}, {">", 2.8, Supported}, {">", 3.9, Refuted},
	} {
		d, err := Expect(3.4, ci, c.op, c.thr)
		if err != nil || d.Verdict != c.want {
			t.Errorf("3.4 %v %s %v: %v %v, want %v", ci, c.op, c.thr, d.Verdict, err, c.want)
		}
	}
	d, _ := Expect(3.4, ci, ">=", 3)
	if !near(d.MoreData, (0.5/0.4)*(0.5/0.4), 1e-9) || d.Need() == "" {
		t.Errorf("more data %v %q", d.MoreData, d.Need())
	}
	if _, err := Expect(1, ci, "==", 1); err == nil {
		t.Error("== must be refused")
	}
	if d, _ := Expect(5, NoInterval, ">", 4); d.Verdict != Supported || d.CI != Exact(5) {
		t.Errorf("exact value: %+v", d)
	}
	for _, c := range []struct {
		lo, hi float64
		want   Verdict
	}{{2, 4, Supported}, {3, 5, Inconclusive}, {4, 5, Refuted}} {
		if d, _ := Within(3.4, ci, c.lo, c.hi); d.Verdict != c.want {
			t.Errorf("within [%v, %v]: %v want %v", c.lo, c.hi, d.Verdict, c.want)
		}
	}
	if _, err := Within(1, ci, 2, 1); err == nil {
		t.Error("empty range must be refused")
	}
}

func TestMeanInterval(t *testing.T) {
	m, ci := MeanInterval([]float64{9, 10, 11}, 0.95)
	if m != 10 || !near(ci.HalfWidth(), 4.302653*1/math.Sqrt(3), 1e-5) {
		t.Fatalf("mean %v ci %v", m, ci)
	}
	if _, ci := MeanInterval([]float64{1}, 0.95); !ci.Unknown() {
		t.Fatal("one replicate has no interval")
	}
}

// A saturated server completes its capacity whatever it is sent: with Poisson sends at 150% of
// capacity the delivered fraction is decidedly under 0.9, and a server that keeps up completes what
// it is sent, decidedly over it. The sends' Poisson noise must not blur either.
func TestRatioIntervalConditionalOnSends(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	poisson := func(mean float64) float64 {
		n := 0.0
		for s := rng.ExpFloat64(); s < mean; s += rng.ExpFloat64() {
			n++
		}
		return n
	}
	for run := range 200 {
		sent := make([]float64, Batches)
		saturated := make([]float64, Batches)
		keptUp := make([]float64, Batches)
		for j := range sent {
			sent[j] = poisson(45)
			saturated[j] = 30 + float64(rng.IntN(3)-1) // capacity 30 per batch, ±1 from batching
			keptUp[j] = sent[j]
		}
		// Requests in flight at the window's edges move a few completions between batches.
		keptUp[0] += 2
		keptUp[Batches-1] -= 3
		if f, ci, _ := RatioInterval(saturated, sent, 0.95); !(ci.Hi < 0.9) {
			t.Fatalf("run %d: saturated server: delivered %.3f %v not decidedly under 0.9", run, f, ci)
		}
		if f, ci, _ := RatioInterval(keptUp, sent, 0.95); !(ci.Lo >= 0.9) {
			t.Fatalf("run %d: server keeping up: delivered %.3f %v not decidedly over 0.9", run, f, ci)
		}
	}
}

// A backlog that only wanders (a server keeping up) gives a narrow interval around the measured
// fraction; one that grows along a line (a saturated server) too; one that drifts up and down in
// long swings (near the knee) a wide one.
func TestBacklogInterval(t *testing.T) {
	steady := make([]float64, 100)
	growing := make([]float64, 100)
	wandering := make([]float64, 100)
	for i := range steady {
		steady[i] = float64(3 + i%3)
		growing[i] = float64(i) + float64(i%2)
		wandering[i] = 20 * math.Sin(float64(i)/10)
	}
	if ci := BacklogInterval(0.99, 200, steady, 0.95); !(ci.Lo > 0.95) {
		t.Errorf("steady backlog: %v", ci)
	}
	if ci := BacklogInterval(0.7, 300, growing, 0.95); !(ci.Hi < 0.72) {
		t.Errorf("growing backlog: %v", ci)
	}
	if ci := BacklogInterval(0.9, 200, wandering, 0.95); !(ci.HalfWidth() > 0.1) {
		t.Errorf("wandering backlog: %v", ci)
	}
}

// Sectioning needs enough values per section for its statistic.
func TestSectioned(t *testing.T) {
	x := make([]float64, 100)
	for i := range x {
		x[i] = float64(i % 10)
	}
	if ci := Sectioned(x, StatMedian, 0.95); ci.Unknown() || !ci.Contains(Quantile(sortedCopy(x), 0.5)) {
		t.Errorf("median: %v", ci)
	}
	if ci := Sectioned(x, StatP99, 0.95); !ci.Unknown() {
		t.Errorf("p99 of 10-value sections: %v, want none", ci)
	}
}
