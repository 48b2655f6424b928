package sim

import (
	"time"

	"starlab/builtins/catalog"
	"starlab/builtins/virtual"
)

// sink receives a request's progress from the engine. Calls happen in time order from whichever
// goroutine drives the replica; they must not block.
type sink interface {
	chunk(at time.Duration, tokens int)
	done(at time.Duration, u virtual.Usage, err error)
}

// request is one sequence inside a replica.
type request struct {
	id                  uint64
	prompt              int
	target              int // output tokens it will produce (max_tokens, or the drawn EOS)
	arrival             time.Duration
	computed            int // tokens whose KV is computed; reset to 0 by preemption
	generated           int // output tokens emitted
	blocks              int // per-layer KV blocks held
	firstAt, lastAt     time.Duration
	stallAfter          int // > 0: the stream stalls after this many tokens
	sink                sink
	scheduled           int // tokens scheduled in the current step
	finished, cancelled bool
	// Prefix caching (prefixcache.go): the prompt's block hashes, the cached blocks the request
	// references (counted in blocks), how many of its prompt blocks have been through the cache,
	// and whether it was ever preempted (its lookups are not counted).
	hashes    []uint64
	refs      []*cachedBlock
	cachedTo  int
	preempted bool
}

// seqLen is the tokens the request's KV must cover to produce its next token.
func (q *request) seqLen() int { return q.prompt + q.generated }

// replica is one vLLM engine (TP GPUs) with its own scheduler and KV block pool.
type replica struct {
	cfg      *Resolved
	idx      int
	waiting  []*request   // FCFS; preempted requests go back to the front
	running  []*request   // in admission order: the last is the newest, preempted first
	pool     int          // per-layer blocks in the pool: NumBlocks · layers
	used     int          // held by requests: their own blocks and the cached blocks they reference
	cache    *prefixCache // nil with prefix caching off
	cost     int          // per-layer blocks of one cached block
	inStep   []*request
	stepFrom time.Duration
	stepTo   time.Duration
	stepping bool
	// busy accounting for telemetry
	busyTotal    time.Duration
	computeTotal float64 // ∫ compute-bound fraction dt, seconds
	stepFrac     float64
	metrics      *metrics
}

func newReplica(cfg *Resolved, idx int, m *metrics) *replica {
	r := &replica{cfg: cfg, idx: idx, pool: cfg.NumBlocks * cfg.ModelInfo.Layers, metrics: m, cost: blockCost(cfg)}
	if r.cost > 0 {
		r.cache = newPrefixCache()
	}
	return r
}

func (r *replica) load() int { return len(r.running) + len(r.waiting) }

// blocksFor is the per-layer blocks a request needs to hold ctx tokens.
func (r *replica) blocksFor(ctx int) int {
	return catalog.LayerBlocks(r.cfg.ModelInfo, ctx, r.cfg.MaxNumBatchedTokens)
}

// grow reserves blocks so q can hold ctx tokens; false if the pool is short. Unreferenced cached
// blocks count as free: the least recently freed are evicted when the rest of the pool is short.
func (r *replica) grow(q *request, ctx int) bool {
	need := r.blocksFor(ctx) - q.blocks
	if need <= 0 {
		return true
	}
	if r.used+need > r.pool {
		return false
	}
	r.evictFor(need)
	r.used += need
	q.blocks += need
	return true
}

// release frees q's own blocks and drops its references to cached ones.
func (r *replica) release(q *request) {
	r.used -= q.blocks - len(q.refs)*r.cost
	q.blocks = 0
	r.dropRefs(q)
}

// preempt drops the newest running request's KV (vLLM V1 recompute preemption) and puts it at
// the front of the queue.
func (r *replica) preempt() *request {
	q := r.running[len(r.running)-1]
	r.running = r.running[:len(r.running)-1]
	r.release(q)
	q.computed = 0
	q.scheduled = 0
	q.preempted = true
	r.waiting = append([]*request{q}, r.waiting...)
	r.metrics.preemptions++
	return q
}

// schedule builds the next step the way vLLM V1's scheduler does: running requests first
// (decodes and unfinished prefill chunks) within the token budget, preempting the newest when
// blocks run out, then waiting requests while the budget, max_num_seqs and blocks allow. It
// returns false when there is nothing to run.
func (r *replica) schedule() (batchShape, bool) {
	budget := r.cfg.MaxNumBatchedTokens
	var b batchShape
	r.inStep = r.inStep[:0]
	for i := 0; i < len(r.running) && budget > 0; i++ {
		q := r.running[i]
		n := min(q.seqLen()-q.computed, budget)
		if n <= 0 {
			continue
		}
		for !r.grow(q, q.computed+n) {
			victim := r.preempt()
			if victim == q {
				n = 0
				break
			}
		}
		if n == 0 {
			break
		}
		q.scheduled = n
		budget -= n
		r.inStep = append(r.inStep, q)
	}
	for len(r.waiting) > 0 && budget > 0 && len(r.running) < r.cfg.MaxNumSeqs {
		q := r.waiting[0]
		if q.computed == 0 && r.cache != nil {
			hit := r.lookup(q)
			n := min(q.seqLen()-len(hit)*virtual.PrefixBlockSize, budget)
			if !r.admitWithHits(q, hit, n) {
				break
			}
		} else if !r.grow(q, q.computed+min(q.seqLen()-q.computed, budget)) {
			break
		}
		n := min(q.seqLen()-q.computed, budget)
		r.waiting = r.waiting[1:]
		r.running = append(r.running, q)
		q.scheduled = n
		budget -= n
		r.inStep = append(r.inStep, q)
	}
	for _, q := range r.inStep {
		b.seqs++
		b.tokens += q.scheduled
		if q.scheduled == 1 && q.computed+1 == q.seqLen() && q.generated > 0 {
			b.decodes++
			b.decodeCtx += q.computed + 1
		}
		b.ctxTokens += q.computed + q.scheduled
		b.attnFLOPs += r.cfg.attnFLOPs(q.scheduled, q.computed)
	}
	return b, b.seqs > 0
}

// begin schedules and starts a step at now; false if idle.
func (r *replica) begin(now time.Duration) bool {
	b, ok := r.schedule()
	if !ok {
		r.stepping = false
		return false
	}
	d, frac := r.cfg.stepTime(b)
	r.stepFrom, r.stepTo, r.stepping, r.stepFrac = now, now+d, true, frac
	return true
}

// finish applies the step that ends at r.stepTo: computed KV advances, caught-up requests emit a
// token, finished ones free their blocks. Callbacks run after the state is consistent.
func (r *replica) finish() {
	at := r.stepTo
	d := r.stepTo - r.stepFrom
	r.busyTotal += d
	r.computeTotal += d.Seconds() * r.stepFrac
	r.stepping = false
	var emits []*request
	var dones []*request
	for _, q := range r.inStep {
		if q.scheduled == 0 || q.finished {
			continue // preempted or cancelled after being scheduled
		}
		q.computed += q.scheduled
		q.scheduled = 0
		r.cacheComputed(q)
		if q.computed < q.seqLen() {
			continue // a prefill chunk: no token yet
		}
		q.generated++
		emits = append(emits, q)
		r.metrics.generationTokens++
		if q.generated == 1 {
			q.firstAt = at
			r.metrics.ttft.observe((at - q.arrival).Seconds())
		} else {
			r.metrics.itl.observe((at - q.lastAt).Seconds())
		}
		q.lastAt = at
		if q.generated >= q.target || q.seqLen() >= r.cfg.MaxModelLen {
			q.finished = true
			dones = append(dones, q)
		}
	}
	if len(dones) > 0 {
		kept := r.running[:0]
		for _, q := range r.running {
			if q.finished {
				r.release(q)
				r.metrics.e2e.observe((at - q.arrival).Seconds())
				r.metrics.success++
				continue
			}
			kept = append(kept, q)
		}
		clear(r.running[len(kept):])
		r.running = kept
	}
	r.inStep = r.inStep[:0]
	for _, q := range emits {
		q.sink.chunk(at, 1)
		if q.finished {
			q.sink.done(at, virtual.Usage{PromptTokens: q.prompt, CompletionTokens: q.generated}, nil)
		}
	}
}

// abort removes every request (crash); their sinks are failed with err at at.
func (r *replica) abort(at time.Duration, err error) {
	all := append(append([]*request(nil), r.running...), r.waiting...)
	for _, q := range r.running {
		r.release(q)
	}
	r.running, r.waiting, r.inStep, r.stepping = nil, nil, nil, false
	for _, q := range all {
		q.finished = true
		q.sink.done(at, virtual.Usage{PromptTokens: q.prompt, CompletionTokens: q.generated}, err)
	}
}

// cancel removes one request (the client went away) and frees its blocks.
func (r *replica) cancel(q *request) {
	if q.finished {
		return
	}
	q.finished, q.cancelled = true, true
	q.scheduled = 0
	for i, x := range r.running {
		if x == q {
			r.running = append(r.running[:i], r.running[i+1:]...)
			r.release(q)
			return
		}
	}
	for i, x := range r.waiting {
		if x == q {
			r.waiting = append(r.waiting[:i], r.waiting[i+1:]...)
			return
		}
	}
}

// kvUsage is vllm:kv_cache_usage_perc for this replica.
func (r *replica) kvUsage() float64 {
	if r.pool == 0 {
		return 0
	}
	return float64(r.used) / float64(r.pool)
}
