package analysis

// Seed fixtures, transcribed from /work/shared/seeds (Korean reports).

// seed003Ramp is seed 003's 1-GPU ramp. Exact in the seed: rate 10 →
// 9.11 req/s, mean TTFT 87.58 ms; rate 20 → 12.24 req/s, 6899 ms; rate 60 →
// mean TTFT 17.9 s; "from 20 up, 30, 40, 60 stay between 12.24 and 13.68
// req/s" with a plateau ≈ 13.7. The seed does not give each plateau value
// or the TTFT at 30 and 40; those are chosen inside the ranges it states
// (marked "range").
func seed003Ramp() []LoadPoint {
	return []LoadPoint{
		{RequestRate: 10, RequestThroughput: 9.11, MeanTTFTms: 87.58},
		{RequestRate: 20, RequestThroughput: 12.24, MeanTTFTms: 6899},
		{RequestRate: 30, RequestThroughput: 13.52, MeanTTFTms: 11000}, // range
		{RequestRate: 40, RequestThroughput: 13.68, MeanTTFTms: 14000}, // throughput exact (max), TTFT range
		{RequestRate: 60, RequestThroughput: 13.61, MeanTTFTms: 17900}, // throughput range
	}
}

// seed000 is seed 000's 1-vs-4 GPU run at request_rate 10 (long prompts):
// 9.1 vs 9.2 req/s, 2916 vs 2950 tok/s, TTFT 83–87 → 65–67 ms, TPOT 37–38 →
// 28–29 ms (midpoints of the stated ranges).
func seed000() (one, four []LoadPoint) {
	one = []LoadPoint{{RequestRate: 10, RequestThroughput: 9.1, OutputThroughput: 2916, MeanTTFTms: 85, MeanTPOTms: 37.5}}
	four = []LoadPoint{{RequestRate: 10, RequestThroughput: 9.2, OutputThroughput: 2950, MeanTTFTms: 66, MeanTPOTms: 28.5}}
	return one, four
}

// seed004Concurrency is seed 004 §1.2: Gemma-3-12B 4-bit on an RTX 3090,
// closed loop at each concurrency. Its throughput column is per request
// (tok/s of one stream), so it falls with concurrency.
func seed004Concurrency() []map[string]any {
	rows := []struct{ c, ttft, e2el, tput float64 }{
		{1, 84.0, 1818, 55.6}, {2, 106.4, 7089, 14.2}, {4, 140.9, 7192, 14.0}, {8, 181.8, 7360, 13.7},
		{16, 227.9, 7633, 13.2}, {32, 352.6, 8106, 12.5}, {48, 375.0, 9926, 10.2}, {64, 439.7, 10459, 9.7},
	}
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		out[i] = map[string]any{
			"request_rate": "inf", "max_concurrency": int(r.c), "completed": 100, "failed": 0,
			"mean_ttft_ms": r.ttft, "mean_e2el_ms": r.e2el, "per_request_tok_s": r.tput,
			"gpu": map[string]any{"memory_mb": 23398},
		}
	}
	return out
}
