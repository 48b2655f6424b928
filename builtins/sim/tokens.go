package sim

import "strings"

// CountTokens is the simulator's tokenizer: one token per whitespace-separated piece
// (strings.Fields). Real BPE tokenizers give about 1.3 tokens per English word; the load
// generator builds prompts of N space-separated words to get N prompt tokens here. Chat
// requests count the concatenated message contents, with no chat-template overhead.
func CountTokens(s string) int { return len(strings.Fields(s)) }

// words are the generated text: token i of request id is words[(id·31+i)%len], each preceded by
// a space, so CountTokens of a completion equals its completion_tokens.
var words = strings.Fields(`the of and to in a is that for it as with was on be by at this are from
or an have not which but all were when we there can more one their has been if would will what
about so no out up into than them only other its time some could these two may then do first any
like now such our over most also new years after many through much before where should well way
must people because while each just those how too here between both under same another around
system model token server batch cache memory queue latency throughput request response stream`)

// tokenText is the text of tokens [from, to) of request id.
func tokenText(id uint64, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteByte(' ')
		b.WriteString(words[(int(id%1_000_003)*31+i)%len(words)])
	}
	return b.String()
}
