package virtual

import (
	"strings"
	"unicode"
)

// PrefixBlockSize is the tokens per KV block, vLLM's default block size: prefix caching reuses
// whole blocks only.
const PrefixBlockSize = 16

// PromptBlocks returns the chained hash of each full block of PrefixBlockSize tokens of prompt,
// with one token per whitespace-separated word (the simulator's tokenizer). Block i's hash
// covers every token up to the end of block i, as vLLM's block hashes chain each block onto its
// parent's, so two prompts share block i's hash exactly when their first (i+1)·PrefixBlockSize
// tokens are the same. The load generator and the simulator's HTTP server compute the same
// hashes for the same text.
func PromptBlocks(prompt string) []uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	var blocks []uint64
	h := uint64(offset)
	n := 0
	for len(prompt) > 0 {
		i := strings.IndexFunc(prompt, unicode.IsSpace)
		if i == 0 {
			prompt = strings.TrimLeftFunc(prompt, unicode.IsSpace)
			continue
		}
		word := prompt
		if i > 0 {
			word, prompt = prompt[:i], prompt[i:]
		} else {
			prompt = ""
		}
		for j := 0; j < len(word); j++ {
			h = (h ^ uint64(word[j])) * prime
		}
		h = (h ^ ' ') * prime // the separator, so "ab c" and "a bc" differ
		if n++; n%PrefixBlockSize == 0 {
			blocks = append(blocks, h)
		}
	}
	return blocks
}
