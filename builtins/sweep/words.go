package sweep

import (
	"hash/fnv"
	"strings"
)

// streamKey names a word stream: prompts that must share text draw it from the same stream.
func streamKey(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// appendWords writes words [from, from+n) of the stream (seed, key), each preceded by a space
// unless it starts the builder. Word j is a pure function of its position, so a stream's first
// n words are the prefix of its first n+m: prompts built from one stream really share their
// leading tokens, which is what a server's prefix cache sees.
func appendWords(b *strings.Builder, seed, key uint64, from, n int) {
	for j := from; j < from+n; j++ {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(promptWords[splitmix(seed^splitmix(key+uint64(j)))%uint64(len(promptWords))])
	}
}

// words returns words [0, n) of the stream (seed, key).
func words(seed, key uint64, n int) string {
	var b strings.Builder
	b.Grow(n * 6)
	appendWords(&b, seed, key, 0, n)
	return b.String()
}
