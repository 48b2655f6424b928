package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"starlab/builtins/virtual"
)

// core is the clock-independent server: replicas behind a balancer, shared metrics, the seeded
// random source and fault state. Its owner serialises access (one goroutine in virtual time, a
// mutex on the wall clock).
type core struct {
	cfg      *Resolved
	replicas []*replica
	metrics  *metrics
	rng      *rand.Rand
	nextID   uint64
	rr       int
	accepted int
	crashed  bool
}

func newCore(cfg *Resolved, seed uint64) *core {
	c := &core{cfg: cfg, metrics: newMetrics(), rng: rand.New(rand.NewPCG(seed, 0x5eed_57a1_ab))}
	for i := 0; i < cfg.DataParallel; i++ {
		c.replicas = append(c.replicas, newReplica(cfg, i, c.metrics))
	}
	return c
}

// RequestError is a request the server rejects before running it; Status is the HTTP status.
type RequestError struct {
	Status  int
	Message string
}

func (e *RequestError) Error() string { return e.Message }

// validate applies vLLM's admission checks; it returns the effective max_tokens.
func (c *core) validate(req virtual.Request) (int, error) {
	maxLen := c.cfg.MaxModelLen
	if req.PromptTokens < 1 {
		return 0, &RequestError{400, "The prompt cannot be empty."}
	}
	if req.MaxTokens < 0 || req.MinTokens < 0 {
		return 0, &RequestError{400, "max_tokens must be at least 1, got " + fmt.Sprint(req.MaxTokens) + "."}
	}
	maxTokens := req.MaxTokens
	if maxTokens == 0 {
		// vLLM's default max_tokens: whatever the context window leaves.
		maxTokens = maxLen - req.PromptTokens
	}
	if req.PromptTokens+maxTokens > maxLen || maxTokens < 1 {
		return 0, &RequestError{400, fmt.Sprintf("This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the messages, %d in the completion). Please reduce the length of the messages or completion.",
			maxLen, req.PromptTokens+maxTokens, req.PromptTokens, maxTokens)}
	}
	if req.MinTokens > maxTokens {
		return 0, &RequestError{400, fmt.Sprintf("min_tokens must be less than or equal to max_tokens=%d, got %d.", maxTokens, req.MinTokens)}
	}
	r := c.replicas[0]
	if r.blocksFor(req.PromptTokens+maxTokens) > r.pool {
		return 0, &RequestError{400, fmt.Sprintf("request needs %d tokens of KV cache but the cache holds %d", req.PromptTokens+maxTokens, c.cfg.KVTokens)}
	}
	return maxTokens, nil
}

// draws are the per-request random choices, always all three so that changing one fault rate
// does not shift every later request's output length.
type draws struct {
	target int
	fail   bool
	stall  bool
}

func (c *core) draw(req virtual.Request, maxTokens int) draws {
	u1, u2, u3 := c.rng.Float64(), c.rng.Float64(), c.rng.Float64()
	d := draws{target: maxTokens, fail: u2 < c.cfg.Faults.ErrorRate, stall: u3 < c.cfg.Faults.StallRate}
	if !req.IgnoreEOS {
		// Geometric EOS position with mean MeanOutputTokens, then min_tokens/max_tokens clamp it.
		p := 1 / c.cfg.MeanOutputTokens
		l := 1 + int(math.Floor(math.Log1p(-u1)/math.Log1p(-p)))
		d.target = min(max(l, req.MinTokens, 1), maxTokens)
	}
	return d
}

// admit routes an accepted request to a replica and returns it.
func (c *core) admit(at time.Duration, req virtual.Request, target int, s sink) (*request, *replica) {
	c.nextID++
	q := &request{id: c.nextID, prompt: req.PromptTokens, target: target, arrival: at, sink: s, hashes: req.Blocks}
	r := c.pick()
	r.waiting = append(r.waiting, q)
	c.metrics.promptTokens += int64(req.PromptTokens)
	return q, r
}

// pick is the data-parallel balancer; deterministic for a given history.
func (c *core) pick() *replica {
	if c.cfg.Balancer == "round-robin" {
		r := c.replicas[c.rr%len(c.replicas)]
		c.rr++
		return r
	}
	best := c.replicas[0]
	for _, r := range c.replicas[1:] {
		if r.load() < best.load() {
			best = r
		}
	}
	return best
}

// countArrival applies CrashAfter; true means the server has crashed.
func (c *core) countArrival(at time.Duration) bool {
	if c.crashed {
		return true
	}
	c.accepted++
	if n := c.cfg.Faults.CrashAfter; n > 0 && c.accepted > n {
		c.crashed = true
		for _, r := range c.replicas {
			r.abort(at, ErrCrashed)
		}
		return true
	}
	return false
}

// prefixCaching says whether the replicas cache prefixes (on unless Config.NoPrefixCaching).
func (c *core) prefixCaching() bool { return c.replicas[0].cache != nil }

func (c *core) gauges() gauges {
	var g gauges
	used, pool := 0, 0
	for _, r := range c.replicas {
		g.running += len(r.running)
		g.waiting += len(r.waiting)
		used += r.used
		pool += r.pool
	}
	if pool > 0 {
		g.kvUsage = float64(used) / float64(pool)
	}
	return g
}

func (c *core) stats() virtual.Stats {
	g := c.gauges()
	return virtual.Stats{Running: g.running, Waiting: g.waiting, KVCacheUsage: g.kvUsage,
		Preemptions: c.metrics.preemptions, PromptTokens: c.metrics.promptTokens, GenerationTokens: c.metrics.generationTokens,
		PrefixCacheQueries: c.metrics.prefixQueries, PrefixCacheHits: c.metrics.prefixHits, PrefixCaching: c.prefixCaching()}
}
