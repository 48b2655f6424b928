package virtual

import (
	"strings"
	"testing"
)

func TestPromptBlocksChainOverWholeBlocks(t *testing.T) {
	words := func(prefix string, n int) string {
		var w []string
		for i := range n {
			w = append(w, prefix+string(rune('a'+i%26)))
		}
		return strings.Join(w, " ")
	}
	a := words("x", 40)                       // 2 full blocks, 8 tokens left over
	b := words("x", 32) + " " + words("y", 8) // same first 32 tokens
	c := words("z", 1) + " " + words("x", 39) // differs in the first token
	ba, bb, bc := PromptBlocks(a), PromptBlocks(b), PromptBlocks(c)
	if len(ba) != 2 || len(bb) != 2 || len(bc) != 2 {
		t.Fatalf("want 2 full blocks each, got %d %d %d", len(ba), len(bb), len(bc))
	}
	if ba[0] != bb[0] || ba[1] != bb[1] {
		t.Error("prompts sharing 32 tokens must share both blocks")
	}
	if bc[0] == ba[0] || bc[1] == ba[1] {
		t.Error("a different first token must change every block's hash (hashes chain)")
	}
	if got := PromptBlocks("  " + strings.ReplaceAll(a, " ", "\n ") + " "); got[0] != ba[0] || got[1] != ba[1] {
		t.Error("whitespace other than single spaces must not change the tokens")
	}
	if PromptBlocks(words("x", 15)) != nil {
		t.Error("a prompt shorter than a block has no full block")
	}
}
