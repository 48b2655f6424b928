package traces

import (
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// readAll streams a trace and checks the invariants every format promises.
func readAll(t *testing.T, path, format string) []Row {
	t.Helper()
	r, err := Open(path, format)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var rows []Row
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n := len(rows); n > 0 && (row.T < rows[n-1].T || row.Line <= rows[n-1].Line) {
			t.Fatalf("row %d goes back: %+v after %+v", n, row, rows[n-1])
		}
		rows = append(rows, row)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next after the end: %v, want io.EOF", err)
	}
	return rows
}

func sameRow(a, b Row) bool {
	ta, tb := a.T, b.T
	a.T, b.T = 0, 0
	return math.Abs(ta-tb) < 1e-9 && reflect.DeepEqual(a, b)
}

func TestSamples(t *testing.T) {
	for _, c := range []struct {
		file, format string
		rows         int
		span         float64
		first, last  Row
		check        func(t *testing.T, rows []Row)
	}{
		{
			file: "azure_sample.csv", format: "azure", rows: 40, span: 14.0015085,
			first: Row{Line: 2, T: 0, InputLen: 1330, OutputLen: 438},
			last:  Row{Line: 41, T: 14.0015085, InputLen: 1036, OutputLen: 92},
			check: func(t *testing.T, rows []Row) {
				// 18:15:03.3203107 - 18:15:03.2175040: all seven fractional digits count.
				if want := (Row{Line: 3, T: 0.1028067, InputLen: 82, OutputLen: 239}); !sameRow(rows[1], want) {
					t.Errorf("row 2 = %+v, want %+v", rows[1], want)
				}
			},
		},
		{
			file: "burstgpt_sample.csv", format: "burstgpt", rows: 36, span: 1336,
			first: Row{Line: 2, T: 0, InputLen: 1501, OutputLen: 806},
			last:  Row{Line: 37, T: 1336, InputLen: 164, OutputLen: 159},
			check: func(t *testing.T, rows []Row) {
				// Failed requests as the published trace writes them: 0,0,0 and a prompt with no answer.
				if want := (Row{Line: 13, T: 516}); !sameRow(rows[11], want) {
					t.Errorf("failure row = %+v, want %+v", rows[11], want)
				}
				if want := (Row{Line: 25, T: 956, InputLen: 1448}); !sameRow(rows[23], want) {
					t.Errorf("failure row = %+v, want %+v", rows[23], want)
				}
			},
		},
		{
			file: "mooncake_sample.jsonl", format: "mooncake", rows: 30, span: 22.656,
			first: Row{Line: 1, T: 0, InputLen: 7774, OutputLen: 271,
				HashIDs: []uint64{0, 1, 2, 3, 4, 5, 6, 7, 8, 19, 20, 21, 22, 23, 24, 25}},
			last: Row{Line: 30, T: 22.656, InputLen: 8767, OutputLen: 214,
				HashIDs: []uint64{0, 1, 2, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 148, 149, 150, 151, 152}},
			check: func(t *testing.T, rows []Row) {
				shared := 0
				for _, r := range rows {
					// The sample follows the published shape: one id per started block of 512.
					if want := (r.InputLen + MooncakeBlockSize - 1) / MooncakeBlockSize; len(r.HashIDs) != want {
						t.Errorf("line %d: %d hash ids for %d tokens, want %d", r.Line, len(r.HashIDs), r.InputLen, want)
					}
					if r.HashIDs[0] == 0 {
						shared++
					}
				}
				if shared < 10 {
					t.Errorf("only %d rows share the system prompt block", shared)
				}
			},
		},
		{
			file: "plain_sample.jsonl", format: "", rows: 24, span: 20.25,
			first: Row{Line: 1, T: 0, InputLen: 812, OutputLen: 64, Session: "alice"},
			last:  Row{Line: 25, T: 20.25, InputLen: 310, OutputLen: 27, Session: "frank"},
			check: func(t *testing.T, rows []Row) {
				// A prompt without input_len counts its words; an integer session becomes a string;
				// the blank line 6 is skipped but counted.
				want := []Row{
					{Line: 3, T: 0.25, InputLen: 9, OutputLen: 96, Prompt: "Summarise the following meeting notes in three bullet points"},
					{Line: 5, T: 2.125, InputLen: 388, OutputLen: 40, Session: "7"},
					{Line: 7, T: 3, InputLen: 1502, OutputLen: 187, Session: "bob"},
					{Line: 8, T: 3.75, InputLen: 64},
					{Line: 9, T: 4.5, InputLen: 9, OutputLen: 24, Prompt: "Write a haiku about queues", Session: "7"},
				}
				for i, w := range want {
					if got := rows[[]int{2, 4, 5, 6, 7}[i]]; !sameRow(got, w) {
						t.Errorf("got %+v, want %+v", got, w)
					}
				}
			},
		},
	} {
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join("testdata", c.file)
			rows := readAll(t, path, c.format)
			if len(rows) != c.rows {
				t.Fatalf("%d rows, want %d", len(rows), c.rows)
			}
			if !sameRow(rows[0], c.first) {
				t.Errorf("first row = %+v, want %+v", rows[0], c.first)
			}
			if !sameRow(rows[len(rows)-1], c.last) {
				t.Errorf("last row = %+v, want %+v", rows[len(rows)-1], c.last)
			}
			c.check(t, rows)
			n, span, err := Scan(path, c.format)
			if err != nil || n != c.rows || math.Abs(span-c.span) > 1e-9 {
				t.Errorf("Scan = %d, %v, %v; want %d, %v", n, span, err, c.rows, c.span)
			}
		})
	}
}

// TestAccepted covers variants the published files or their common exports use.
func TestAccepted(t *testing.T) {
	for _, c := range []struct {
		name, format, ext, text string
		want                    []Row
	}{
		{"azure columns reordered, extra column, CRLF, BOM", "azure", ".csv",
			"\ufeffGeneratedTokens,Deployment,TIMESTAMP,ContextTokens\r\n44,a,2023-11-16 18:15:46.6805900,374\r\n12,b,2023-11-16 18:15:48,91\r\n",
			[]Row{{Line: 2, InputLen: 374, OutputLen: 44}, {Line: 3, T: 1.31941, InputLen: 91, OutputLen: 12}}},
		{"azure T separator and zones", "azure", ".csv",
			"TIMESTAMP,ContextTokens,GeneratedTokens\n2024-05-10T00:00:00.25Z,10,1\n2024-05-10 02:00:01+02:00,20,2\n2024-05-10 00:00:02.5+0000,30,3\n",
			[]Row{{Line: 2, InputLen: 10, OutputLen: 1}, {Line: 3, T: 0.75, InputLen: 20, OutputLen: 2}, {Line: 4, T: 2.25, InputLen: 30, OutputLen: 3}}},
		{"burstgpt fractional seconds and integral floats", "burstgpt", ".csv",
			"Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n10.5,GPT-4,472.0,18,490,API log\n10.5,ChatGPT,5,0,5,Conversation log\n12,ChatGPT,7,1,8,API log\n",
			[]Row{{Line: 2, InputLen: 472, OutputLen: 18}, {Line: 3, InputLen: 5}, {Line: 4, T: 1.5, InputLen: 7, OutputLen: 1}}},
		{"mooncake without hash ids, unknown fields, float times", "mooncake", ".jsonl",
			"{\"timestamp\": 100.5, \"input_length\": 900, \"output_length\": 3, \"session_id\": \"x\"}\n\n{\"timestamp\": 100.5, \"input_length\": 1, \"output_length\": 0, \"hash_ids\": []}\n{\"timestamp\": 1600.5, \"input_length\": 512, \"output_length\": 1, \"hash_ids\": [7]}\n",
			[]Row{{Line: 1, InputLen: 900, OutputLen: 3}, {Line: 3, InputLen: 1}, {Line: 4, T: 1.5, InputLen: 512, OutputLen: 1, HashIDs: []uint64{7}}}},
		{"jsonl null fields and unknown ones", "jsonl", ".txt",
			"{\"t\": 5, \"input_len\": 3, \"output_len\": 4, \"session\": null, \"prompt\": null, \"model\": \"m\"}\n{\"t\": 5.5, \"input_len\": 1, \"output_len\": 1, \"session\": -2}\n",
			[]Row{{Line: 1, InputLen: 3, OutputLen: 4}, {Line: 2, T: 0.5, InputLen: 1, OutputLen: 1, Session: "-2"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "trace"+c.ext)
			if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			rows := readAll(t, path, c.format)
			if len(rows) != len(c.want) {
				t.Fatalf("rows = %+v, want %+v", rows, c.want)
			}
			for i := range rows {
				if !sameRow(rows[i], c.want[i]) {
					t.Errorf("row %d = %+v, want %+v", i, rows[i], c.want[i])
				}
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	const azureHead = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
	const burstHead = "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
	const moonOK = `{"timestamp": 2000, "input_length": 600, "output_length": 5, "hash_ids": [1, 2]}` + "\n"
	for _, c := range []struct {
		name, format, text, want string
	}{
		// azure
		{"azure bad context", "azure", azureHead + "2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:47.1,abc,12\n",
			`:3: ContextTokens: want a whole number >= 1, got "abc"`},
		{"azure zero context", "azure", azureHead + "2023-11-16 18:15:46,0,44\n", `:2: ContextTokens: want a whole number >= 1, got "0"`},
		{"azure negative generated", "azure", azureHead + "2023-11-16 18:15:46,10,-3\n", `:2: GeneratedTokens: want a whole number >= 0, got "-3"`},
		{"azure fractional generated", "azure", azureHead + "2023-11-16 18:15:46,10,2.5\n", `:2: GeneratedTokens: want a whole number >= 0, got "2.5"`},
		{"azure bad time", "azure", azureHead + "2023-11-16 25:00:00,10,2\n",
			`:2: TIMESTAMP: want a date and time like "2023-11-16 18:15:46.6805900", got "2023-11-16 25:00:00"`},
		{"azure backwards", "azure", azureHead + "2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:40,91,16\n",
			`:3: TIMESTAMP: "2023-11-16 18:15:40" is before "2023-11-16 18:15:46.6805900" on line 2 (a trace must be in time order)`},
		{"azure short row", "azure", azureHead + "2023-11-16 18:15:46,374\n",
			`:2: GeneratedTokens: missing (the row has 2 columns, the header names it as column 3)`},
		{"azure missing header", "azure", "TIMESTAMP,Context,GeneratedTokens\n2023-11-16 18:15:46,374,44\n",
			`:1: header has no "ContextTokens" column (header: TIMESTAMP,Context,GeneratedTokens)`},
		{"azure empty", "azure", "", `: empty file; want a header row naming TIMESTAMP, ContextTokens, GeneratedTokens`},
		{"azure bad quote", "azure", azureHead + "2023-11-16 18:15:46,3\"74,44\n", `:2: bare " in non-quoted-field`},
		{"azure huge", "azure", azureHead + "2023-11-16 18:15:46,3000000000,44\n",
			`:2: ContextTokens: want a whole number <= 2147483647, got "3000000000"`},
		// burstgpt
		{"burstgpt prompt without tokens", "burstgpt", burstHead + "5,ChatGPT,0,12,12,Conversation log\n",
			`:2: Request tokens: want a whole number >= 1, got "0"`},
		{"burstgpt bad time", "burstgpt", burstHead + "5,ChatGPT,3,12,15,API log\nsoon,GPT-4,3,12,15,API log\n",
			`:3: Timestamp: want a number of seconds, got "soon"`},
		{"burstgpt NaN time", "burstgpt", burstHead + "NaN,ChatGPT,3,12,15,API log\n", `:2: Timestamp: want a number of seconds, got "NaN"`},
		{"burstgpt backwards", "burstgpt", burstHead + "45,ChatGPT,3,12,15,API log\n5,GPT-4,3,12,15,API log\n",
			`:3: Timestamp: "5" is before "45" on line 2 (a trace must be in time order)`},
		{"burstgpt bad response", "burstgpt", burstHead + "5,ChatGPT,3,1.5,15,API log\n", `:2: Response tokens: want a whole number >= 0, got "1.5"`},
		{"burstgpt missing header", "burstgpt", "Timestamp,Model,Request tokens,Total tokens,Log Type\n5,ChatGPT,3,15,API log\n",
			`:1: header has no "Response tokens" column (header: Timestamp,Model,Request tokens,Total tokens,Log Type)`},
		// mooncake
		{"mooncake string length", "mooncake", moonOK + `{"timestamp": 2500, "input_length": "abc", "output_length": 5}` + "\n",
			`:2: input_length: want a whole number >= 1, got "abc"`},
		{"mooncake too few hash ids", "mooncake", `{"timestamp": 0, "input_length": 1100, "output_length": 5, "hash_ids": [1, 2]}` + "\n",
			`:1: input_length: 1100 tokens need at least 3 hash_ids of 512 tokens, got 2`},
		{"mooncake bad hash ids", "mooncake", `{"timestamp": 0, "input_length": 10, "output_length": 5, "hash_ids": ["a"]}` + "\n",
			`:1: hash_ids: want a list of whole numbers >= 0, got ["a"]`},
		{"mooncake missing output", "mooncake", `{"timestamp": 0, "input_length": 10}` + "\n", `:1: output_length: missing`},
		{"mooncake missing timestamp", "mooncake", `{"input_length": 10, "output_length": 1}` + "\n", `:1: timestamp: missing`},
		{"mooncake backwards", "mooncake", moonOK + "\n" + `{"timestamp": 1000, "input_length": 10, "output_length": 5}` + "\n",
			`:3: timestamp: 1000 is before 2000 on line 1 (a trace must be in time order)`},
		{"mooncake truncated JSON", "mooncake", moonOK + `{"timestamp": 1,` + "\n", `:2: invalid JSON: unexpected end of JSON input`},
		{"mooncake not an object", "mooncake", "[1, 2]\n", `:1: want a JSON object, got [1, 2]`},
		// jsonl
		{"jsonl missing t", "jsonl", `{"input_len": 3, "output_len": 4}` + "\n", `:1: t: missing`},
		{"jsonl string t", "jsonl", `{"t": "0s", "input_len": 3, "output_len": 4}` + "\n", `:1: t: want a number of seconds, got "0s"`},
		{"jsonl string length", "jsonl", `{"t": 0, "input_len": 3, "output_len": 4}` + "\n" + `{"t": 1, "input_len": "12", "output_len": 4}` + "\n",
			`:2: input_len: want a whole number >= 1, got "12"`},
		{"jsonl negative output", "jsonl", `{"t": 0, "input_len": 3, "output_len": -1}` + "\n", `:1: output_len: want a whole number >= 0, got -1`},
		{"jsonl float session", "jsonl", `{"t": 0, "input_len": 3, "output_len": 1, "session": 1.5}` + "\n",
			`:1: session: want a string or a whole number, got 1.5`},
		{"jsonl number prompt", "jsonl", `{"t": 0, "prompt": 42, "output_len": 1}` + "\n", `:1: prompt: want a string, got 42`},
		{"jsonl empty prompt", "jsonl", `{"t": 0, "prompt": "  ", "output_len": 1}` + "\n", `:1: input_len: missing, and the prompt has no words`},
		{"jsonl no length", "jsonl", `{"t": 0, "output_len": 1}` + "\n", `:1: input_len: missing (give input_len or a prompt)`},
		{"jsonl missing output", "jsonl", `{"t": 0, "input_len": 1}` + "\n", `:1: output_len: missing`},
		{"jsonl backwards", "jsonl", `{"t": 2, "input_len": 3, "output_len": 4}` + "\n\n" + `{"t": 1.5, "input_len": 3, "output_len": 4}` + "\n",
			`:3: t: 1.5 is before 2 on line 1 (a trace must be in time order)`},
		{"jsonl huge", "jsonl", `{"t": 0, "input_len": 3e10, "output_len": 4}` + "\n", `:1: input_len: want a whole number <= 2147483647, got 3e10`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.trace")
			if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			want := path + c.want
			err := readErr(path, c.format)
			if err == nil || err.Error() != want {
				t.Fatalf("error = %v\nwant    %s", err, want)
			}
			if _, _, err := Scan(path, c.format); err == nil || err.Error() != want {
				t.Errorf("Scan error = %v, want %s", err, want)
			}
		})
	}
}

// readErr reads a trace to its first error, and checks the error sticks.
func readErr(path, format string) error {
	r, err := Open(path, format)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		_, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if _, again := r.Next(); again != err {
				return errors.New("error did not stick: " + again.Error())
			}
			return err
		}
	}
}

func TestLongLine(t *testing.T) {
	defer func(old int) { maxLine = old }(maxLine)
	maxLine = 100
	path := filepath.Join(t.TempDir(), "long.jsonl")
	text := `{"t": 0, "input_len": 3, "output_len": 4}` + "\n" + `{"t": 1, "input_len": 3, "output_len": 4, "prompt": "` + strings.Repeat("x ", 60) + `"}` + "\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := readErr(path, "jsonl"); err == nil || err.Error() != path+":2: line longer than 100 bytes" {
		t.Errorf("error = %v", err)
	}
}

func TestOpenFormats(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "t.csv")
	if err := os.WriteFile(csvPath, []byte("TIMESTAMP,ContextTokens,GeneratedTokens\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(Formats(), ","); got != "azure,burstgpt,mooncake,jsonl" {
		t.Errorf("Formats() = %s", got)
	}
	for _, c := range []struct{ path, format, want string }{
		{csvPath, "", csvPath + `: trace format not given; want one of "azure", "burstgpt", "mooncake", "jsonl" (only .jsonl files default to "jsonl")`},
		{csvPath, "parquet", csvPath + `: unknown trace format "parquet"; want one of "azure", "burstgpt", "mooncake", "jsonl"`},
		{filepath.Join(dir, "none.jsonl"), "", "open " + filepath.Join(dir, "none.jsonl") + ": no such file or directory"},
	} {
		if _, err := Open(c.path, c.format); err == nil || err.Error() != c.want {
			t.Errorf("Open(%s, %q) error = %v, want %s", c.path, c.format, err, c.want)
		}
	}
	// A header alone is an empty trace, and a format name is case-insensitive.
	if n, span, err := Scan(csvPath, "Azure"); n != 0 || span != 0 || err != nil {
		t.Errorf("Scan(header only) = %d, %v, %v", n, span, err)
	}
	r, err := Open(csvPath, "azure")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err == nil || err == io.EOF {
		t.Errorf("Next after Close = %v, want an error", err)
	}
}
