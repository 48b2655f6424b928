package analysis

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"

	"starlab/runtime/jsonnum"
	"starlab/stats"
)

// Samples are one point's per-request latencies in ms, read back from the sweep's requests file
// (sweeps/<name>.requests.jsonl): the measured (non-warmup), successful requests of every repeat.
// compare() resamples them, which a point's summary figures cannot support.
type Samples struct {
	TTFT, TPOT, E2EL []float64
}

// Of returns the sample a latency family ("ttft", "tpot", "e2el") names.
func (s Samples) Of(family string) []float64 {
	switch family {
	case "ttft":
		return s.TTFT
	case "tpot":
		return s.TPOT
	case "e2el":
		return s.E2EL
	}
	return nil
}

// LatencyMetric splits a latency statistic that per-request samples can recompute,
// "p99_ttft_ms", into its statistic and family. ITL is left out (its gaps are pooled over
// requests and not in the requests file), and so is std (no two-sample test of it is offered).
func LatencyMetric(metric string) (stat stats.Stat, family string, ok bool) {
	head, rest, found := strings.Cut(metric, "_")
	if !found || !strings.HasSuffix(rest, "_ms") {
		return "", "", false
	}
	family = strings.TrimSuffix(rest, "_ms")
	stat = stats.Stat(head)
	if !stat.Valid() || (family != "ttft" && family != "tpot" && family != "e2el") {
		return "", "", false
	}
	return stat, family, true
}

// requestLine is the part of a requests-file line the samples need (sweep.RequestLine writes it).
type requestLine struct {
	Point        int           `json:"point"`
	Repeat       int           `json:"repeat"`
	Index        int           `json:"index"`
	RequestRate  jsonnum.Float `json:"request_rate"`
	Concurrency  int           `json:"concurrency"`
	Warmup       bool          `json:"warmup"`
	TTFTMs       jsonnum.Float `json:"ttft_ms"`
	E2ELMs       jsonnum.Float `json:"e2el_ms"`
	OutputTokens int           `json:"output_tokens"`
	Error        string        `json:"error"`
	Incomplete   bool          `json:"incomplete"`
}

// SampleLoad identifies the point whose requests to read: its index in the sweep and its load,
// which every line repeats, so a file of another sweep of the same name is not mistaken for it.
type SampleLoad struct {
	Point int
	// Rate is the offered request rate (+Inf for a closed loop, then Concurrency is the workers).
	Rate        float64
	Concurrency int
}

// ReadSamples reads one point's samples from a requests file. A request logged twice (a point
// measured again after a resumed run was killed mid-point) counts once, as last written. It
// fails when the file is missing or has no line of the point, and when the point's lines were
// measured at another load (the file belongs to another sweep of the same name).
func ReadSamples(path string, load SampleLoad) (Samples, error) {
	f, err := os.Open(path)
	if err != nil {
		return Samples{}, err
	}
	defer f.Close()
	type key struct{ repeat, index int }
	lines := map[key]requestLine{}
	var order []key // first-seen order, so the samples are the same on every read
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		raw := sc.Bytes()
		if len(strings.TrimSpace(string(raw))) == 0 {
			continue
		}
		var l requestLine
		if err := json.Unmarshal(raw, &l); err != nil {
			continue // a torn last line of a killed run
		}
		if l.Point != load.Point {
			continue
		}
		if !sameLoad(l, load) {
			return Samples{}, fmt.Errorf("%s line %d: point %d was measured at rate %v, concurrency %d, not at this point's load",
				path, n, l.Point, float64(l.RequestRate), l.Concurrency)
		}
		k := key{l.Repeat, l.Index}
		if _, seen := lines[k]; !seen {
			order = append(order, k)
		}
		lines[k] = l
	}
	if err := sc.Err(); err != nil {
		return Samples{}, err
	}
	if len(order) == 0 {
		return Samples{}, fmt.Errorf("%s has no request of point %d", path, load.Point)
	}
	var s Samples
	for _, k := range order {
		l := lines[k]
		ttft, e2el := float64(l.TTFTMs), float64(l.E2ELMs)
		if l.Warmup || l.Error != "" || l.Incomplete || math.IsNaN(ttft) || math.IsNaN(e2el) {
			continue
		}
		s.TTFT = append(s.TTFT, ttft)
		s.E2EL = append(s.E2EL, e2el)
		if l.OutputTokens > 1 {
			s.TPOT = append(s.TPOT, (e2el-ttft)/float64(l.OutputTokens-1))
		}
	}
	return s, nil
}

// sameLoad: a closed-loop line names its workers (and no rate), an open-loop line its rate.
func sameLoad(l requestLine, load SampleLoad) bool {
	if l.Concurrency > 0 || math.IsInf(load.Rate, 1) {
		return math.IsInf(load.Rate, 1) && l.Concurrency == load.Concurrency
	}
	rate := float64(l.RequestRate)
	return math.Abs(rate-load.Rate) <= 1e-9*math.Max(1, math.Abs(load.Rate))
}
