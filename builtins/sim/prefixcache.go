package sim

import "starlab/builtins/virtual"

// Automatic prefix caching as vLLM V1 does it (vllm/v1/core/block_pool.py, kv_cache_manager.py):
// every full block of PrefixBlockSize prompt tokens has a hash chained over the prompt up to its
// end (virtual.Request.Blocks); a computed block is kept under that hash, shared by reference
// with every request whose prompt starts the same way, and once no request references it, it
// waits in a free LRU queue, still cached, until its space is needed for something else.
//
// Space is counted in the replica's per-layer blocks: a cached block costs blockCost of them.
// For full-attention models that is one block per layer. For models with sliding-window layers
// (Gemma 3) a cached block holds only the full-attention layers' KV, so it costs GlobalLayers()
// blocks; the sliding-window layers' blocks stay each request's own (their count is bounded by
// the window anyway), and a hit skips their computation too — a simplification of vLLM's hybrid
// cache, which keeps the window's blocks cached as well.

// cachedBlock is one cached block; prev/next link it into the free LRU while refs == 0.
type cachedBlock struct {
	hash       uint64
	refs       int
	prev, next *cachedBlock
}

// prefixCache is one replica's cache. free counts the unreferenced blocks in the LRU (head =
// least recently freed, evicted first).
type prefixCache struct {
	blocks     map[uint64]*cachedBlock
	head, tail *cachedBlock
	free       int
}

func newPrefixCache() *prefixCache { return &prefixCache{blocks: map[uint64]*cachedBlock{}} }

func (c *prefixCache) pushTail(b *cachedBlock) {
	b.prev, b.next = c.tail, nil
	if c.tail != nil {
		c.tail.next = b
	} else {
		c.head = b
	}
	c.tail = b
	c.free++
}

func (c *prefixCache) unlink(b *cachedBlock) {
	if b.prev != nil {
		b.prev.next = b.next
	} else {
		c.head = b.next
	}
	if b.next != nil {
		b.next.prev = b.prev
	} else {
		c.tail = b.prev
	}
	b.prev, b.next = nil, nil
	c.free--
}

// match returns the cached blocks of the longest cached prefix of hashes, at most max blocks.
func (c *prefixCache) match(hashes []uint64, max int) []*cachedBlock {
	var out []*cachedBlock
	for i := 0; i < len(hashes) && i < max; i++ {
		b, ok := c.blocks[hashes[i]]
		if !ok {
			break
		}
		out = append(out, b)
	}
	return out
}

// blockCost is the per-layer blocks one cached block holds (see the file comment); 0 turns
// caching off (a model without full-attention layers).
func blockCost(cfg *Resolved) int {
	if cfg.NoPrefixCaching {
		return 0
	}
	return cfg.ModelInfo.GlobalLayers()
}

// evictable is the per-layer blocks held by unreferenced cached blocks: free for admission and
// for kv_cache_usage, reclaimed only when the uncached free space runs out.
func (r *replica) evictable() int {
	if r.cache == nil {
		return 0
	}
	return r.cache.free * r.cost
}

// evictFor drops least recently freed unreferenced blocks until need more per-layer blocks fit
// beside the cached ones.
func (r *replica) evictFor(need int) {
	for r.cache != nil && r.used+need+r.evictable() > r.pool && r.cache.head != nil {
		b := r.cache.head
		r.cache.unlink(b)
		delete(r.cache.blocks, b.hash)
	}
}

// lookup is vLLM's get_computed_blocks for a request scheduled with nothing computed: the
// longest cached prefix of its prompt blocks, capped so that at least one token is computed
// (vLLM recomputes the last token of a prompt that hits completely).
func (r *replica) lookup(q *request) []*cachedBlock {
	if r.cache == nil {
		return nil
	}
	limit := min((q.seqLen()-1)/virtual.PrefixBlockSize, q.prompt/virtual.PrefixBlockSize)
	return r.cache.match(q.hashes, limit)
}

// admitWithHits starts q at the end of its cached prefix hit and reserves the blocks for n more
// tokens beyond it; false, with nothing changed, when the pool is short. As vLLM's
// allocate_slots, unreferenced hit blocks leave the free queue and so count against the space.
//
// An admitted request that was never preempted counts its tokens into the queries and its hit
// into the hits counters, once: vLLM's PrefixCacheStats keeps preempted requests' lookups apart
// (not exported), and counts at admission since vLLM PR #48860 (before it, a lookup repeated
// while the request waited for blocks counted again, vLLM issue #43736).
func (r *replica) admitWithHits(q *request, hit []*cachedBlock, n int) bool {
	unref := 0
	for _, b := range hit {
		if b.refs == 0 {
			unref++
		}
	}
	ctx := len(hit)*virtual.PrefixBlockSize + n
	private := r.blocksFor(ctx) - len(hit)*r.cost
	if r.used+unref*r.cost+private > r.pool {
		return false
	}
	for _, b := range hit {
		if b.refs == 0 {
			r.cache.unlink(b)
			r.used += r.cost
		}
		b.refs++
	}
	q.refs = append(q.refs[:0], hit...)
	q.cachedTo = len(hit)
	q.blocks = len(hit) * r.cost
	q.computed = len(hit) * virtual.PrefixBlockSize
	if !q.preempted {
		r.metrics.prefixQueries += int64(q.seqLen())
		r.metrics.prefixHits += int64(q.computed)
	}
	return r.grow(q, ctx)
}

// cacheComputed turns q's full prompt blocks whose KV is now computed into cached blocks that q
// references: their space moves from q's own blocks to the shared ones. A block some other
// request cached meanwhile stays q's own (vLLM does not merge duplicates).
func (r *replica) cacheComputed(q *request) {
	if r.cache == nil {
		return
	}
	full := min(q.computed, q.prompt) / virtual.PrefixBlockSize
	for ; q.cachedTo < full && q.cachedTo < len(q.hashes); q.cachedTo++ {
		h := q.hashes[q.cachedTo]
		if _, ok := r.cache.blocks[h]; ok {
			continue
		}
		b := &cachedBlock{hash: h, refs: 1}
		r.cache.blocks[h] = b
		q.refs = append(q.refs, b)
	}
}

// dropRefs releases q's cached blocks, last block first so that a prompt's tail is evicted
// before its head (vLLM frees a request's blocks in reverse order).
func (r *replica) dropRefs(q *request) {
	for i := len(q.refs) - 1; i >= 0; i-- {
		b := q.refs[i]
		if b.refs--; b.refs == 0 {
			r.used -= r.cost
			r.cache.pushTail(b)
		}
	}
	q.refs, q.cachedTo = nil, 0
}
