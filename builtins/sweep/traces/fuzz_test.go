package traces

// Fuzzers for the four trace formats: whatever the file holds, Open and Next neither panic nor loop,
// every error names the file (and its line, past the header), and the rows keep the promises
// readAll checks on the samples. scripts/fuzz.sh runs them.

import (
	"bytes"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// fuzzTrace seeds f with the format's sample (whole, and cut after a few lines) and extra, and
// checks each input read as format.
func fuzzTrace(f *testing.F, format, sample string, extra ...string) {
	b, err := os.ReadFile(filepath.Join("testdata", sample))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	if lines := bytes.SplitAfter(b, []byte("\n")); len(lines) > 4 {
		head := bytes.Join(lines[:4], nil)
		f.Add(head)
		f.Add(head[:len(head)-9]) // the fourth line cut short
	}
	for _, e := range extra {
		f.Add([]byte(e))
	}
	path := filepath.Join(f.TempDir(), "trace"+filepath.Ext(sample))
	lineErr := regexp.MustCompile(`^` + regexp.QuoteMeta(path) + `:(\d+): `)
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		checkErr := func(err error) {
			t.Helper()
			msg := err.Error()
			if msg == path+": empty file; want a header row naming "+strings.Join(csvNames(format), ", ") {
				return
			}
			m := lineErr.FindStringSubmatch(msg)
			if m == nil {
				t.Fatalf("error does not name the file and line: %q", msg)
			}
			if n, _ := strconv.Atoi(m[1]); n < 1 || n > lines {
				t.Fatalf("line %d of a file of %d lines: %q", n, lines, msg)
			}
		}
		r, err := Open(path, format)
		if err != nil {
			checkErr(err)
			return
		}
		defer r.Close()
		var prev Row
		for i := 0; ; i++ {
			if i > lines {
				t.Fatalf("%d rows from %d lines", i, lines)
			}
			row, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				checkErr(err)
				if again, err2 := r.Next(); err2 != err {
					t.Fatalf("error did not stick: %v, then %+v %v", err, again, err2)
				}
				return
			}
			if math.IsNaN(row.T) || row.T < 0 || i > 0 && (row.T < prev.T || row.Line <= prev.Line) {
				t.Fatalf("row %d goes back or is not a time: %+v after %+v", i, row, prev)
			}
			if row.Line < 1 || row.Line > lines || row.InputLen < 0 || row.InputLen > maxLen ||
				row.OutputLen < 0 || row.OutputLen > maxLen || row.InputLen == 0 && row.OutputLen != 0 {
				t.Fatalf("row %d out of range: %+v", i, row)
			}
			if n := len(row.HashIDs); n > 0 && n*MooncakeBlockSize < row.InputLen {
				t.Fatalf("row %d: %d hash ids for %d tokens", i, len(row.HashIDs), row.InputLen)
			}
			prev = row
		}
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("Next after the end: %v, want io.EOF", err)
		}
	})
}

// csvNames are the columns a CSV format's header must name (nil for the JSON formats).
func csvNames(format string) []string {
	switch format {
	case "azure":
		return []string{"TIMESTAMP", "ContextTokens", "GeneratedTokens"}
	case "burstgpt":
		return []string{"Timestamp", "Request tokens", "Response tokens"}
	}
	return nil
}

func FuzzTraceAzure(f *testing.F) {
	const head = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
	fuzzTrace(f, "azure", "azure_sample.csv",
		head+"2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:47.1,abc,12\n",
		head+"2023-11-16 18:15:46,10,2.5\n",
		head+"2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:40,91,16\n",
		head+"2023-11-16 18:15:46,3\"74,44\n",
		head+"\"2023-11-16 18:15:46\",\"3\n74\",44\n",
		"TIMESTAMP,Context,GeneratedTokens\n2023-11-16 18:15:46,374,44\n", "")
}

func FuzzTraceBurstGPT(f *testing.F) {
	const head = "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
	fuzzTrace(f, "burstgpt", "burstgpt_sample.csv",
		head+"5,ChatGPT,0,12,12,Conversation log\n",
		head+"45,ChatGPT,3,12,15,API log\n5,GPT-4,3,12,15,API log\n",
		head+"NaN,ChatGPT,3,12,15,API log\n1e308,GPT-4,0,0,0,API log\n",
		head+"5,ChatGPT,3,1.5,15,API log\n")
}

func FuzzTraceMooncake(f *testing.F) {
	ok := `{"timestamp": 2000, "input_length": 600, "output_length": 5, "hash_ids": [1, 2]}` + "\n"
	fuzzTrace(f, "mooncake", "mooncake_sample.jsonl",
		ok+`{"timestamp": 2500, "input_length": "abc", "output_length": 5}`+"\n",
		`{"timestamp": 0, "input_length": 1100, "output_length": 5, "hash_ids": [1, 2]}`+"\n",
		ok+"\n"+`{"timestamp": 1000, "input_length": 10, "output_length": 5}`+"\n",
		ok+`{"timestamp": 1,`+"\n", "[1, 2]\n", `{"timestamp": 1e400}`)
}

func FuzzTraceJSONL(f *testing.F) {
	fuzzTrace(f, "jsonl", "plain_sample.jsonl",
		`{"t": "0s", "input_len": 3, "output_len": 4}`+"\n",
		`{"t": 0, "input_len": 3, "output_len": 1, "session": 1.5}`+"\n",
		`{"t": 0, "prompt": "  ", "output_len": 1}`+"\n",
		`{"t": 2, "input_len": 3, "output_len": 4}`+"\n\n"+`{"t": 1.5, "input_len": 3, "output_len": 4}`+"\n",
		`{"t": 0, "input_len": 3e10, "output_len": 4}`+"\n",
		`{"t": 0, "prompt": "a b", "session": 7, "output_len": 0}`+"\r\n"+`{"t": 1e-9, "input_len": 1.0, "output_len": 2}`)
}
