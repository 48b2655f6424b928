// Package stats holds the uncertainty arithmetic behind every verdict: confidence intervals for
// rates (batch means, exact Poisson), for latency statistics (a seeded moving-block bootstrap over
// requests), for ratios of independent estimates, two-sample comparisons with p-values and effect
// sizes, and the three-valued decision rules of hypotheses. It knows nothing of points, sweeps or
// Starlark: callers hand it numbers and a confidence level, and every random draw comes from a seed
// the caller derives from the run seed, so the same run gives the same intervals.
package stats
