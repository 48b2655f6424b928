// Package traces streams request traces (arrival times and token lengths) from files, one row at a
// time, so that a trace of millions of requests replays in bounded memory. It knows four formats,
// chosen by name; each was checked against its publisher's description:
//
//   - "azure": the Azure LLM inference traces (github.com/Azure/AzurePublicDataset,
//     AzureLLMInferenceDataset2023.md and 2024.md, from the Splitwise and DynamoLLM papers). CSV with
//     a header row; the schema names three fields: TIMESTAMP (invocation time, a date and time such
//     as "2023-11-16 18:15:46.6805900", seven fractional digits in the published files),
//     ContextTokens (number of context tokens) and GeneratedTokens (number of generated tokens).
//     Columns are found by header name in any order; other columns are ignored. A 'T' between date
//     and time and a trailing "Z" or numeric zone are accepted. T is the time since the first row.
//   - "burstgpt": the BurstGPT trace (github.com/HPMLL/BurstGPT, README "Schema"). CSV with the
//     header Timestamp, Model, Request tokens, Response tokens, Total tokens, Log Type. Timestamp is
//     the request submission time in seconds from the start of the trace; Model is ChatGPT or GPT-4;
//     Log Type is "Conversation log" or "API log". Only Timestamp, Request tokens and Response tokens
//     are read. The README says failed requests have Response tokens 0 (BurstGPT_1.csv keeps them,
//     BurstGPT_without_fails_1.csv drops them) and the published rows show failures as 0,0,0; such
//     rows come back with OutputLen 0 and possibly InputLen 0, and the caller skips them.
//   - "mooncake": the Mooncake traces (github.com/kvcache-ai/Mooncake, FAST25-release). JSON lines
//     {"timestamp", "input_length", "output_length", "hash_ids"}: the arrival time in milliseconds,
//     input and output token counts, and the remapped hashes of the prompt's KV-cache blocks; equal
//     ids in two rows mean a shared prompt prefix. Blocks are MooncakeBlockSize (512) tokens, the
//     block size that replayers of the trace assume (Dynamo's data generator, AISBench). In every
//     published row we looked at, len(hash_ids) is exactly ceil(input_length/512), but no description
//     states it (Dynamo's even says input_length // 512, which the rows contradict), so only
//     input_length <= 512*len(hash_ids) is enforced, and only when hash_ids is a non-empty list.
//   - "jsonl": starlab's own plain format, one object per line: "t" (seconds, a number),
//     "input_len" and "output_len" (whole numbers), optional "prompt" (string) and "session" (string
//     or whole number, kept as a string). Without input_len a prompt's length is its number of
//     whitespace-separated words (the simulator's tokenizer). Blank lines are skipped.
//
// Every format: T is seconds since the first row (first row 0) and must never decrease (a trace is
// in time order); unknown JSON fields and extra CSV columns are ignored; a missing required header or
// field, a non-number or a negative length is an error "path:LINE: field: what is wrong". InputLen is
// at least 1 and OutputLen at least 0 (BurstGPT failures excepted, see above); rows with OutputLen 0
// are returned and the caller decides. testdata/ holds small synthetic samples of each format,
// written for these tests (the numbers are invented, the shapes follow the published traces).
package traces
