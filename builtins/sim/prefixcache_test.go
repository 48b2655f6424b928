package sim

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"starlab/builtins/virtual"
)

// tokenWords returns n space-separated tokens named prefix0, prefix1, ...
func tokenWords(prefix string, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return strings.Join(w, " ")
}

// promptReq is a request for text (one token per word) with its block hashes.
func promptReq(text string, maxTokens int) virtual.Request {
	return virtual.Request{PromptTokens: CountTokens(text), MaxTokens: maxTokens, IgnoreEOS: true, Blocks: virtual.PromptBlocks(text)}
}

// checkCache verifies the replica's block accounting: used is the requests' own blocks plus the
// referenced cached blocks, every reference is to a cached block, the free LRU holds exactly the
// unreferenced cached blocks, and nothing overflows the pool.
func checkCache(t *testing.T, r *replica) {
	t.Helper()
	if r.cache == nil {
		return
	}
	refs := map[*cachedBlock]int{}
	own := 0
	for _, q := range r.running {
		own += q.blocks - len(q.refs)*r.cost
		if q.blocks-len(q.refs)*r.cost < 0 {
			t.Fatalf("request %d holds %d blocks but references %d cached ones", q.id, q.blocks, len(q.refs))
		}
		for _, b := range q.refs {
			refs[b]++
			if r.cache.blocks[b.hash] != b {
				t.Fatalf("request %d references block %x that is not cached (evicted while referenced)", q.id, b.hash)
			}
		}
	}
	for _, q := range r.waiting {
		if q.blocks != 0 || len(q.refs) != 0 {
			t.Fatalf("waiting request %d holds blocks", q.id)
		}
	}
	inLRU := 0
	for b := r.cache.head; b != nil; b = b.next {
		inLRU++
		if b.refs != 0 {
			t.Fatalf("referenced block %x in the free LRU", b.hash)
		}
	}
	shared := 0
	for _, b := range r.cache.blocks {
		if b.refs != refs[b] {
			t.Fatalf("block %x: refs %d, held by %d requests", b.hash, b.refs, refs[b])
		}
		if b.refs > 0 {
			shared++
		}
	}
	if inLRU != r.cache.free || inLRU+shared != len(r.cache.blocks) {
		t.Fatalf("LRU holds %d (free %d), shared %d, cached %d", inLRU, r.cache.free, shared, len(r.cache.blocks))
	}
	if r.used != own+shared*r.cost || r.used+r.evictable() > r.pool {
		t.Fatalf("used %d, want own %d + shared %d·%d; evictable %d, pool %d", r.used, own, shared, r.cost, r.evictable(), r.pool)
	}
}

// runChecked runs s to t in small steps, checking the cache accounting on the way.
func runChecked(t *testing.T, s *VirtualServer, until time.Duration) {
	t.Helper()
	for now := s.Now(); now < until; {
		next, ok := s.NextEvent()
		if !ok {
			break
		}
		now = min(max(next, now+time.Microsecond), until)
		s.RunUntil(now)
		for _, r := range s.core.replicas {
			checkCache(t, r)
		}
	}
	s.RunUntil(until)
}

// TestPrefixCacheSharedPrefix sends two requests sharing a 1,024-token prefix one after the other:
// with caching the second starts at its hit and answers sooner; without, nothing hits.
func TestPrefixCacheSharedPrefix(t *testing.T) {
	prefix := tokenWords("sys", 1024)
	for _, tc := range []struct {
		name       string
		model      string
		off        bool
		a, b       string
		wantHits   int64
		wantFaster bool
	}{
		{"shared prefix", "Llama-3.1-8B", false, prefix + " " + tokenWords("a", 100), prefix + " " + tokenWords("b", 100), 1024, true},
		// A prompt that hits completely still computes its last token: 63 of 64 blocks hit.
		{"identical prompts", "Llama-3.1-8B", false, prefix, prefix, 1008, true},
		{"sliding window model", "Gemma-3-12B", false, prefix + " x", prefix + " y", 1024, true},
		{"caching off", "Llama-3.1-8B", true, prefix + " " + tokenWords("a", 100), prefix + " " + tokenWords("b", 100), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustVirtual(t, Config{Model: tc.model, NoPrefixCaching: tc.off}, 1)
			var ttft [2]time.Duration
			var sent [2]time.Duration
			for i, text := range []string{tc.a, tc.b} {
				i := i
				sent[i] = time.Duration(i) * 5 * time.Second
				s.Submit(sent[i], promptReq(text, 4), virtual.Events{Chunk: func(at time.Duration, _ int) {
					if ttft[i] == 0 {
						ttft[i] = at - sent[i]
					}
				}})
			}
			runChecked(t, s, 10*time.Second)
			st := s.Stats()
			wantQueries := int64(CountTokens(tc.a) + CountTokens(tc.b))
			if tc.off {
				wantQueries = 0
			}
			if st.PrefixCacheHits != tc.wantHits || st.PrefixCacheQueries != wantQueries || st.PrefixCaching == tc.off {
				t.Errorf("stats %+v, want hits %d of %d queries", st, tc.wantHits, wantQueries)
			}
			if faster := ttft[1] < ttft[0]*3/4; faster != tc.wantFaster {
				t.Errorf("TTFT %v then %v; want the second faster: %v", ttft[0], ttft[1], tc.wantFaster)
			}
			if st.KVCacheUsage != 0 {
				t.Errorf("kv usage %v after both finished: unreferenced cached blocks count as free", st.KVCacheUsage)
			}
			if r := s.core.replicas[0]; !tc.off && r.evictable() == 0 {
				t.Error("no cached blocks kept after the requests finished")
			}
			var m bytes.Buffer
			s.WriteMetrics(&m)
			parser := expfmt.NewTextParser(model.UTF8Validation)
			fams, err := parser.TextToMetricFamilies(&m)
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range map[string]int64{"vllm:prefix_cache_queries_total": wantQueries, "vllm:prefix_cache_hits_total": tc.wantHits} {
				f := fams[name]
				if f == nil || f.GetType().String() != "COUNTER" || len(f.Metric) != 1 {
					t.Fatalf("%s: %v", name, f)
				}
				if v := f.Metric[0].Counter.GetValue(); v != float64(want) {
					t.Errorf("%s = %v, want %d", name, v, want)
				}
				labels := map[string]string{}
				for _, l := range f.Metric[0].Label {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["model_name"] != tc.model || labels["engine"] != "0" || len(labels) != 2 {
					t.Errorf("%s labels %v", name, labels)
				}
			}
		})
	}
}

// TestPrefixCacheLRUEviction fills a 16-block cache with three finished prompts of 4 blocks, then
// needs 4 more blocks than are uncached: the oldest prompt's blocks go, the others stay, and
// blocks a running request references are never evicted.
func TestPrefixCacheLRUEviction(t *testing.T) {
	s := mustVirtual(t, Config{Model: "Llama-3.1-8B", NumGPUBlocksOverride: 16}, 1)
	r := s.core.replicas[0]
	texts := []string{tokenWords("a", 64), tokenWords("b", 64), tokenWords("c", 64)}
	for i, text := range texts {
		s.Submit(time.Duration(i)*time.Second, promptReq(text, 1), virtual.Events{})
		runChecked(t, s, time.Duration(i+1)*time.Second)
	}
	cached := func(text string) (n int) {
		for _, h := range virtual.PromptBlocks(text) {
			if _, ok := r.cache.blocks[h]; ok {
				n++
			}
		}
		return n
	}
	if st := s.Stats(); st.KVCacheUsage != 0 || r.evictable() != 12*r.cost || cached(texts[0]) != 4 {
		t.Fatalf("after three prompts: %+v, evictable %d", st, r.evictable())
	}
	// d needs 8 blocks (64 prompt + 64 output tokens): 4 of them come from evicting a.
	d := tokenWords("d", 64)
	var usage float64
	s.Submit(3*time.Second, promptReq(d, 64), virtual.Events{Chunk: func(time.Duration, int) {
		if usage == 0 {
			usage = s.Stats().KVCacheUsage
		}
	}})
	runChecked(t, s, 4*time.Second)
	if a, b, c := cached(texts[0]), cached(texts[1]), cached(texts[2]); a != 0 || b != 4 || c != 4 {
		t.Errorf("cached blocks of a, b, c: %d %d %d; want the oldest evicted", a, b, c)
	}
	if usage <= 0 || usage > 5.0/16 {
		t.Errorf("kv usage while d ran: %v, want d's own blocks only", usage)
	}
	// Evicting within a prompt takes its last block first: a shorter pressure leaves the head.
	s2 := mustVirtual(t, Config{Model: "Llama-3.1-8B", NumGPUBlocksOverride: 8}, 1)
	r2 := s2.core.replicas[0]
	s2.Submit(0, promptReq(texts[0], 1), virtual.Events{})
	runChecked(t, s2, time.Second)
	s2.Submit(time.Second, promptReq(tokenWords("e", 80), 1), virtual.Events{}) // 5 blocks: evicts 1
	runChecked(t, s2, 2*time.Second)
	ha := virtual.PromptBlocks(texts[0])
	for i, h := range ha {
		_, ok := r2.cache.blocks[h]
		if ok != (i < 3) {
			t.Errorf("block %d of a cached: %v; want the tail evicted first", i, ok)
		}
	}
}

// TestPrefixCacheNeverEvictsReferenced runs many requests sharing a few prefixes through a tiny
// cache, so that requests are preempted and cached blocks evicted, checking the accounting at
// every step (checkCache fails on an evicted referenced block).
func TestPrefixCacheNeverEvictsReferenced(t *testing.T) {
	for _, m := range []string{"Llama-3.1-8B", "Gemma-3-12B"} {
		t.Run(m, func(t *testing.T) {
			s := mustVirtual(t, Config{Model: m, NumGPUBlocksOverride: 120}, 1)
			rng := rand.New(rand.NewPCG(3, 4))
			prefixes := []string{tokenWords("p", 320), tokenWords("q", 480), tokenWords("r", 160)}
			done := 0
			for i := 0; i < 60; i++ {
				text := prefixes[rng.IntN(len(prefixes))] + " " + tokenWords(fmt.Sprintf("u%d-", i), 10+rng.IntN(200))
				s.Submit(time.Duration(i)*40*time.Millisecond, promptReq(text, 50+rng.IntN(300)), virtual.Events{
					Done: func(_ time.Duration, _ virtual.Usage, err error) {
						if err == nil {
							done++
						}
					}})
			}
			runChecked(t, s, 2*time.Minute)
			st := s.Stats()
			if done != 60 || st.Preemptions == 0 || st.PrefixCacheHits == 0 || st.KVCacheUsage != 0 {
				t.Errorf("%d of 60 done, stats %+v", done, st)
			}
			if rate := float64(st.PrefixCacheHits) / float64(st.PrefixCacheQueries); rate < 0.3 {
				t.Errorf("hit rate %.2f", rate)
			}
		})
	}
}

// TestPrefixCacheNoSharingSameTimings: prompts that share nothing run exactly as without the
// cache. Under preemption they do not: a recomputed request hits its own blocks, cached when it
// was preempted (as in vLLM), though those lookups are not counted.
func TestPrefixCacheNoSharingSameTimings(t *testing.T) {
	run := func(off bool, model string, pool int) (string, virtual.Stats) {
		s := mustVirtual(t, Config{Model: model, NumGPUBlocksOverride: pool, NoPrefixCaching: off}, 1)
		rng := rand.New(rand.NewPCG(7, 1))
		var recs []*record
		var at time.Duration
		for i := 0; i < 400; i++ {
			at += time.Duration(rng.ExpFloat64() / 30 * 1e9)
			n := 100 + rng.IntN(900)
			blocks := make([]uint64, n/virtual.PrefixBlockSize)
			for j := range blocks {
				blocks[j] = rng.Uint64()
			}
			rec := &record{sent: at}
			recs = append(recs, rec)
			s.Submit(at, virtual.Request{PromptTokens: n, MaxTokens: 300, Blocks: blocks}, virtual.Events{
				Chunk: func(t time.Duration, k int) {
					if rec.chunks == 0 {
						rec.first = t
					}
					rec.chunks += k
					rec.last = t
				},
				Done: func(_ time.Duration, u virtual.Usage, err error) { rec.usage, rec.err = u, err },
			})
		}
		s.RunUntil(10 * time.Minute)
		return timeline(recs), s.Stats()
	}
	for _, tc := range []struct {
		model   string
		pool    int
		preempt bool
	}{
		{"Llama-3.1-8B", 20000, false}, {"Gemma-3-12B", 20000, false},
		{"Llama-3.1-8B", 300, true}, {"Gemma-3-12B", 300, true},
	} {
		on, son := run(false, tc.model, tc.pool)
		off, soff := run(true, tc.model, tc.pool)
		if (son.Preemptions > 0) != tc.preempt || (soff.Preemptions > 0) != tc.preempt {
			t.Errorf("%s, %d blocks: preemptions %d and %d", tc.model, tc.pool, son.Preemptions, soff.Preemptions)
		}
		if same := on == off; same == tc.preempt {
			t.Errorf("%s, %d blocks: same timings with the cache on: %v", tc.model, tc.pool, same)
		}
		if son.PrefixCacheHits != 0 || son.PrefixCacheQueries != son.PromptTokens || soff.PrefixCacheQueries != 0 {
			t.Errorf("%s: %+v: want no hits and every prompt token queried once", tc.model, son)
		}
	}
}

// TestPrefixCacheHTTP sends two completions and a chat sharing a prefix through the API; the
// server hashes the prompt text, and /metrics counts the hits.
func TestPrefixCacheHTTP(t *testing.T) {
	for _, tc := range []struct {
		flag     string
		wantHits bool
	}{{"--enable-prefix-caching", true}, {"--no-enable-prefix-caching", false}} {
		t.Run(tc.flag, func(t *testing.T) {
			o, err := ParseServeArgs([]string{"serve", "Llama-3.2-1B", tc.flag})
			if err != nil || len(o.Unknown) != 0 || o.Config.NoPrefixCaching == tc.wantHits {
				t.Fatalf("%+v %v", o, err)
			}
			_, url := startHTTP(t, o.Config)
			prefix := tokenWords("s", 320)
			for _, body := range []string{
				`{"prompt": "` + prefix + ` one", "max_tokens": 2}`,
				`{"prompt": ["` + prefix + ` two"], "max_tokens": 2}`,
				`{"messages": [{"role": "system", "content": "` + tokenWords("s", 100) + `"}, {"role": "user", "content": [{"type": "text", "text": "` +
					strings.TrimPrefix(prefix, tokenWords("s", 100)+" ") + ` three"}]}], "max_tokens": 2}`,
			} {
				path := "/v1/completions"
				if strings.Contains(body, "messages") {
					path = "/v1/chat/completions"
				}
				resp, err := http.Post(url+path, "application/json", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("%s: %s", path, resp.Status)
				}
			}
			resp, err := http.Get(url + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			_, samples := parseText(t, body)
			got := map[string]float64{}
			for _, s := range samples {
				got[s.name] = s.value
			}
			wantHits, wantQueries := 0.0, 0.0
			if tc.wantHits {
				wantHits, wantQueries = 2*320, 3*321 // the second and the chat hit the 320-token prefix
			}
			if got["vllm:prefix_cache_hits_total"] != wantHits || got["vllm:prefix_cache_queries_total"] != wantQueries {
				t.Errorf("hits %v of %v queries, want %v of %v", got["vllm:prefix_cache_hits_total"], got["vllm:prefix_cache_queries_total"], wantHits, wantQueries)
			}
		})
	}
}

func TestParsePrefixCachingFlags(t *testing.T) {
	for _, tc := range []struct {
		args string
		off  bool
		err  bool
	}{
		{"m", false, false},
		{"m --enable-prefix-caching", false, false},
		{"m --no-enable-prefix-caching", true, false},
		{"m --no_enable_prefix_caching --enable-prefix-caching", false, false},
		{"m --enable-prefix-caching --no-enable-prefix-caching", true, false},
		{"m --enable-prefix-caching=false", false, true},
	} {
		o, err := ParseServeArgs(strings.Fields(tc.args))
		if (err != nil) != tc.err || (err == nil && (o.Config.NoPrefixCaching != tc.off || len(o.Unknown) != 0)) {
			t.Errorf("%q: %+v, %v", tc.args, o, err)
		}
	}
}
