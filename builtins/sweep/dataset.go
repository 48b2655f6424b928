package sweep

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Item is one request's payload.
type Item struct {
	Prompt string
	// PromptTokens is the intended prompt length (random: exact target; files: word count).
	PromptTokens int
	// OutputTokens is max_tokens (and min_tokens unless EOS is allowed); 0 lets Config.DefaultOutputLen apply.
	OutputTokens int
	// Messages, for a conversation's turn, is the chat form of Prompt (system prompt, earlier
	// turns, the new user message); the chat endpoint sends it instead of one user message.
	Messages []Message `json:",omitempty"`
}

// Dataset yields request payloads by index; Item(i) is deterministic, so a schedule replays the
// same prompts.
type Dataset struct {
	// Kind is "random", "jsonl", "sharegpt", "trace" or "conversations".
	Kind string
	// Path is the source file for file datasets.
	Path   string
	items  []Item
	random *RandomSpec
	trace  *traceSource      // streamed, never loaded whole
	conv   *ConversationSpec // items are sessions' turns (Turn), not indices
}

// RandomSpec mirrors dataset(kind="random", ...).
type RandomSpec struct {
	InputLen   int
	OutputLen  int
	RangeRatio float64 // lengths uniform in [len·(1−r), len·(1+r)], as vLLM bench
	Num        int     // 0: unbounded (items generated per index)
	// PrefixLen tokens, the same for every request, come before each prompt's InputLen random
	// ones (vLLM bench's --random-prefix-len), so a prefix cache can reuse them.
	PrefixLen int
	Seed      uint64
	Key       string
}

// NewRandom returns a synthetic dataset. Prompts are random common short English words separated
// by spaces: a whitespace-counting simulator and real BPE tokenizers both see about one token per
// word, so the server's prompt length is close to the target.
func NewRandom(s RandomSpec) (*Dataset, error) {
	if s.InputLen < 1 || s.OutputLen < 1 {
		return nil, fmt.Errorf("input_len and output_len must be >= 1, got %d and %d", s.InputLen, s.OutputLen)
	}
	if s.RangeRatio < 0 || s.RangeRatio >= 1 {
		return nil, fmt.Errorf("range_ratio must be in [0, 1), got %v", s.RangeRatio)
	}
	if s.Num < 0 {
		return nil, fmt.Errorf("num must be >= 0, got %d", s.Num)
	}
	if s.PrefixLen < 0 {
		return nil, fmt.Errorf("prefix_len must be >= 0, got %d", s.PrefixLen)
	}
	spec := s
	return &Dataset{Kind: "random", random: &spec}, nil
}

// Len is the number of distinct items; 0 means unbounded.
func (d *Dataset) Len() int {
	switch {
	case d.random != nil:
		return d.random.Num
	case d.trace != nil:
		return d.trace.rows
	case d.conv != nil:
		return d.conv.Sessions
	}
	return len(d.items)
}

// Conversations is the dataset's conversation spec, nil for other kinds.
func (d *Dataset) Conversations() *ConversationSpec { return d.conv }

// Err is a trace's read error after it was checked (the file changed under the run); nil for
// other kinds.
func (d *Dataset) Err() error {
	if d.trace != nil {
		return d.trace.error()
	}
	return nil
}

// Item returns the i-th payload; bounded datasets cycle. A conversation's i-th item is session
// i's first turn (Turn gives the others).
func (d *Dataset) Item(i int) Item {
	switch {
	case d.trace != nil:
		return d.trace.item(i)
	case d.conv != nil:
		return d.conv.Turn(i, 1)
	}
	if d.random != nil {
		if d.random.Num > 0 {
			i %= d.random.Num
		}
		return d.random.item(i)
	}
	return d.items[i%len(d.items)]
}

func (s *RandomSpec) item(i int) Item {
	r := NewRand(s.Seed^uint64(i)*0x9e3779b97f4a7c15, "dataset/random/"+s.Key)
	in := spread(r, s.InputLen, s.RangeRatio)
	out := spread(r, s.OutputLen, s.RangeRatio)
	var b strings.Builder
	b.Grow((s.PrefixLen + in) * 5)
	appendWords(&b, s.Seed, streamKey("dataset/random/prefix", s.Key), 0, s.PrefixLen)
	for w := 0; w < in; w++ {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(promptWords[r.IntN(len(promptWords))])
	}
	return Item{Prompt: b.String(), PromptTokens: s.PrefixLen + in, OutputTokens: out}
}

func spread(r *rand.Rand, n int, ratio float64) int {
	if ratio == 0 {
		return n
	}
	lo := int(float64(n) * (1 - ratio))
	hi := int(float64(n) * (1 + ratio))
	lo = max(lo, 1)
	return lo + r.IntN(hi-lo+1)
}

// promptWords are frequent short English words, each a single token in common BPE vocabularies
// (with its leading space).
var promptWords = strings.Fields(`the of and to in is it you that he was for on are as with his they
at be this have from or one had by but not what all were we when your can said there use an each
which she do how their if will up other about out many then them these so some her would make like
him into time has look two more go see way could no than first been call who its now find long down
day did get come made may part over new sound take only little work know place year live me back
give most very after thing our just name good man think say great where help through much before line
right too mean old any same tell boy follow came want show also around form three small set put end
does another well large must big even such because turn here why ask went men read need land
different home us move try kind hand picture again change off play spell air away animal house point
page letter mother answer found study still learn should world high every near add food between own
below country plant last school father keep tree never start city earth eye light thought head under
story saw left few while along might close something seem next hard open example begin life always
those both paper together got group often run important until children side feet car mile night walk
white sea began grow took river four carry state once book hear stop without second later miss idea
enough eat face watch far really almost let above girl sometimes mountain cut young talk soon list
song being leave family`)
