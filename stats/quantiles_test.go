package stats

import (
	"math/rand/v2"
	"testing"
)

// One walk over the counts gives the same quantiles as one walk per quantile.
func TestQuantilesOfCountsMatchesOneByOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	qs := []float64{0, 0.5, 0.9, 0.99, 1}
	for trial := range 200 {
		m := 1 + rng.IntN(50)
		sorted := make([]float64, m)
		counts := make([]int32, m)
		n := 0
		for i := range sorted {
			sorted[i] = float64(i) + rng.Float64()
			counts[i] = int32(rng.IntN(3))
			n += int(counts[i])
		}
		if n == 0 {
			counts[m-1], n = 1, 1
		}
		got := make([]float64, len(qs))
		quantilesOfCounts(sorted, counts, n, qs, got)
		for j, q := range qs {
			if want := quantileOfCounts(sorted, counts, q); got[j] != want {
				t.Fatalf("trial %d, q %v: %v, want %v (counts %v)", trial, q, got[j], want, counts)
			}
		}
	}
}
