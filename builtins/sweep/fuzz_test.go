package sweep

// Fuzzers for the parsers that read what servers and users hand the load generator: reply streams
// cut at any read boundary, /metrics pages, and prompt datasets. (FuzzStream and FuzzDecodeChunk in
// stream_test.go check the stream reader against go-openai's.) scripts/fuzz.sh runs them all.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// cutReader returns body in reads whose sizes cycle through cuts (size = cut % 64; 0 is an empty
// read, never two in a row, so the reader's no-progress guard never trips), then end.
type cutReader struct {
	body      []byte
	cuts      []byte
	i         int
	lastEmpty bool
	end       error
}

func (c *cutReader) Read(p []byte) (int, error) {
	if len(c.body) == 0 {
		return 0, c.end
	}
	n := len(c.body)
	if len(c.cuts) > 0 {
		n = int(c.cuts[c.i%len(c.cuts)] % 64)
		c.i++
		if n == 0 && c.lastEmpty {
			n = 1
		}
	}
	c.lastEmpty = n == 0
	n = min(n, len(p), len(c.body))
	copy(p, c.body[:n])
	c.body = c.body[n:]
	return n, nil
}

func (c *cutReader) Close() error { return nil }

// FuzzStreamChunks: a reply read in any pieces (empty reads included) gives the record, error and
// class it gives read one byte at a time: where the reads fall must not matter.
func FuzzStreamChunks(f *testing.F) {
	for i, tc := range streamShapes {
		if len(tc.body) < 4096 {
			f.Add(tc.status, []byte(tc.body), []byte{byte(i), 7, 0, 63, 1}, tc.end == io.EOF)
		}
	}
	f.Add(200, []byte(sse(append(tokens(3, textEvent), usageEvent, "[DONE]")...)), []byte{}, true)
	f.Fuzz(func(t *testing.T, status int, body, cuts []byte, clean bool) {
		if status < 100 || status > 599 {
			status = 200
		}
		end := io.ErrUnexpectedEOF
		if clean {
			end = io.EOF
		}
		rec := &RequestRecord{InputTokens: 16}
		err := readResponse(response(status, &cutReader{body: body, cuts: cuts, end: end}), rec, time.Now())
		got := outcomeOf(rec, err)
		if want := newStream(status, body, end); got != want {
			t.Fatalf("read in pieces %v:\n got %+v\nwant %+v (one byte per read)", cuts, got, want)
		}
		if rec.ChunkCount != len(rec.Chunks) || rec.ChunkCount < 0 || rec.OutputTokens < 0 {
			t.Fatalf("record: %d chunks, %d stamps, %d output tokens", rec.ChunkCount, len(rec.Chunks), rec.OutputTokens)
		}
	})
}

// FuzzParseMetrics: any /metrics page parses or fails with an error that says it was the metrics;
// a series the page lacks reads 0 and absent; reading it a byte at a time changes nothing.
func FuzzParseMetrics(f *testing.F) {
	pages, _ := filepath.Glob(filepath.Join("testdata", "metrics", "*.txt"))
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	if len(pages) == 0 {
		f.Fatal("no seed pages in testdata/metrics")
	}
	f.Add([]byte("# HELP vllm:num_requests_running Number of requests.\n# TYPE vllm:num_requests_running gauge\n" +
		"vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 4.0\nvllm:num_preemptions_total{engine=\"0\"} NaN\n" +
		"vllm:prefix_cache_queries_total 1e3\nvllm:prefix_cache_hits_total +Inf\n"))
	f.Add([]byte("vllm:x{a=\"b\" 1\n"))
	f.Add([]byte("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 3\nh_sum 4\nh_count 3\n"))
	show := func(s serverSample) string { return fmt.Sprintf("%+v", s) } // NaN prints equal to NaN
	f.Fuzz(func(t *testing.T, page []byte) {
		s, err := parseMetrics(bytes.NewReader(page), everyEngine)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "metrics: ") {
				t.Fatalf("error does not say it is the metrics: %v", err)
			}
			return
		}
		for _, f := range []struct {
			has bool
			v   float64
		}{{s.hasRunning, s.running}, {s.hasWaiting, s.waiting}, {s.hasKV, s.kv}, {s.hasPreempt, s.preemptions},
			{s.hasPrefixQueries, s.prefixQueries}, {s.hasPrefixHits, s.prefixHits}} {
			if !f.has && f.v != 0 {
				t.Fatalf("absent series with value %v: %+v", f.v, s)
			}
		}
		s2, err := parseMetrics(iotest.OneByteReader(bytes.NewReader(page)), everyEngine)
		if err != nil || show(s2) != show(s) {
			t.Fatalf("byte by byte: %+v %v, whole: %+v", s2, err, s)
		}
	})
}

// lineErr matches an error that names the file and a line.
func lineErr(path string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(path) + `:(\d+): `)
}

// checkFileError: err names path, and the line when it is not one of the whole-file complaints; the
// line is one the file has (or the one after its last, where the file ended too soon).
func checkFileError(t *testing.T, err error, path string, data []byte, wholeFile ...string) {
	t.Helper()
	msg := err.Error()
	for _, w := range wholeFile {
		if msg == path+": "+w {
			return
		}
	}
	m := lineErr(path).FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("error does not name the file and line: %q", msg)
	}
	n, _ := strconv.Atoi(m[1])
	if lines := bytes.Count(data, []byte("\n")) + 1; n < 1 || n > lines {
		t.Fatalf("line %d of a file of %d lines: %q", n, lines, msg)
	}
}

// checkItems: a loaded dataset has at least one item, at most num, each with a prompt, its word
// count and a non-negative output length.
func checkItems(t *testing.T, d *Dataset, num int) {
	t.Helper()
	if len(d.items) == 0 || num > 0 && len(d.items) > num {
		t.Fatalf("%d items with num %d", len(d.items), num)
	}
	for i, it := range d.items {
		if it.Prompt == "" || it.PromptTokens != len(strings.Fields(it.Prompt)) || it.OutputTokens < 0 {
			t.Fatalf("item %d: %+v", i, it)
		}
	}
}

// FuzzLoadJSONL: any file loads or fails with an error naming the file and the line.
func FuzzLoadJSONL(f *testing.F) {
	for _, name := range []string{"prompts.jsonl", "bad.jsonl"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, 0)
	}
	f.Add([]byte("{\"prompt\":\"a b c\",\"output_len\":5}\n\n{\"prompt\":\"x\",\"output_tokens\":2}\n"), 1)
	f.Add([]byte("{\"prompt\":\"a\"}\n{\"prompt\":\"b\",\"output_len\":\"x\"}\n"), 0)
	f.Add([]byte("{\"text\":\"a\"}\r\n"), 0)
	f.Add([]byte("{\"prompt\":\"\\u00e9 t\",\"output_len\":1e2}"), 3)
	path := filepath.Join(f.TempDir(), "prompts.jsonl")
	f.Fuzz(func(t *testing.T, data []byte, num int) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := LoadJSONL(path, num)
		if err != nil {
			checkFileError(t, err, path, data, "no prompts")
			return
		}
		checkItems(t, d, num)
	})
}

// FuzzLoadShareGPT: any file loads or fails with an error naming the file and the line.
func FuzzLoadShareGPT(f *testing.F) {
	f.Add([]byte(`[
 {"id": "a1", "conversations": [{"from": "human", "value": "hello there you"}, {"from": "gpt", "value": "one two three four"}]},
 {"id": "a2", "conversations": [{"from": "human", "value": "only"}]},
 {"conversations": [{"from": "system", "value": "be brief"}, {"from": "user", "value": "why"}, {"from": "assistant", "value": "because"}]}
]`), 0)
	f.Add([]byte("[\n{\"conversations\": [{\"from\": \"human\"}]}\n]"), 0)
	f.Add([]byte("[\n{\"conversations\": 3}\n]"), 0)
	f.Add([]byte("[\n{\"conversations\": [{\"from\": \"human\", \"value\": \"a\"}, {\"from\": \"gpt\", \"value\": \"b\"}]},\n"), 1)
	f.Add([]byte("{}"), 0)
	f.Add([]byte("[1, null]"), 0)
	path := filepath.Join(f.TempDir(), "sharegpt.json")
	f.Fuzz(func(t *testing.T, data []byte, num int) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := LoadShareGPT(path, num)
		if err != nil {
			checkFileError(t, err, path, data, "no usable conversations")
			return
		}
		checkItems(t, d, num)
		for i, it := range d.items {
			if it.OutputTokens < 1 {
				t.Fatalf("item %d: output %d", i, it.OutputTokens)
			}
		}
	})
}
