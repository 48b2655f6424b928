package analysis

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestUSLRecoversParameters(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		lambda, sigma, kappa float64
		ns                   []float64
		noise                float64 // relative, Gaussian
		seed                 uint64
		tolSigma, tolKappa   float64
	}{
		{"retrograde", 100, 0.05, 0.002, []float64{1, 2, 4, 8, 16, 24, 32, 48, 64}, 0.01, 1, 0.01, 0.0002},
		{"uneven without N=1", 55, 0.1, 0.0005, []float64{2, 3, 5, 9, 17, 33, 40, 64}, 0.01, 2, 0.01, 0.0001},
		{"contention only", 20, 0.08, 0, []float64{1, 2, 4, 8, 16, 32}, 0.005, 3, 0.005, 0.0001},
		{"exact", 10, 0.02, 0.001, []float64{1, 4, 16, 64}, 0, 4, 1e-9, 1e-12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			truth := USLFit{Lambda: tc.lambda, Sigma: tc.sigma, Kappa: tc.kappa}
			rng := rand.New(rand.NewPCG(tc.seed, 7))
			xs := make([]float64, len(tc.ns))
			for i, n := range tc.ns {
				xs[i] = truth.Predict(n) * (1 + tc.noise*rng.NormFloat64())
			}
			f, err := USL(tc.ns, xs)
			if err != nil {
				t.Fatal(err)
			}
			tol := 3*tc.noise + 1e-6
			if math.Abs(f.Lambda-tc.lambda)/tc.lambda > tol {
				t.Errorf("λ = %v, want %v", f.Lambda, tc.lambda)
			}
			if math.Abs(f.Sigma-tc.sigma) > tc.tolSigma {
				t.Errorf("σ = %v, want %v", f.Sigma, tc.sigma)
			}
			if math.Abs(f.Kappa-tc.kappa) > tc.tolKappa {
				t.Errorf("κ = %v, want %v", f.Kappa, tc.kappa)
			}
			if start := uslSSE(tc.ns, xs, uslStart(tc.ns, xs)); f.SSE > start {
				t.Errorf("refinement raised SSE from %v to %v", start, f.SSE)
			}
			if f.Sigma < 0 || f.Kappa < 0 {
				t.Errorf("negative coefficient: %+v", f)
			}
			if f.R2 < 0.98 {
				t.Errorf("R² = %v", f.R2)
			}
			if tc.kappa > 0 {
				want := math.Sqrt((1 - tc.sigma) / tc.kappa)
				if math.Abs(f.PeakN-want)/want > 0.15 {
					t.Errorf("peak N = %v, want ≈ %v", f.PeakN, want)
				}
			}
			if math.Abs(f.Predict(8)-truth.Predict(8))/truth.Predict(8) > 2*tol {
				t.Errorf("Predict(8) = %v, want ≈ %v", f.Predict(8), truth.Predict(8))
			}
		})
	}
}

func TestUSLErrors(t *testing.T) {
	for _, tc := range []struct {
		ns, xs []float64
		want   string
	}{
		{[]float64{1, 2, 4}, []float64{1, 2, 3}, "got 3 points, need at least 4"},
		{[]float64{1, 2, 4, 8}, []float64{1, 2, 3}, "4 values of N but 3 throughputs"},
		{[]float64{1, 0, 4, 8}, []float64{1, 2, 3, 4}, "point 1: N = 0"},
		{[]float64{1, 2, 4, 8}, []float64{1, 2, math.NaN(), 4}, "point 2: throughput NaN"},
	} {
		if _, err := USL(tc.ns, tc.xs); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("USL(%v, %v): got %v, want %q", tc.ns, tc.xs, err, tc.want)
		}
	}
}
