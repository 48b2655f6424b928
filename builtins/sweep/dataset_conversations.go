package sweep

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Message is one chat message of a conversation turn.
type Message struct {
	Role    string `json:"role"` // system | user | assistant
	Content string `json:"content"`
}

// ConversationSpec mirrors dataset(kind="conversations", ...): sessions of TurnsMin..TurnsMax
// turns, each turn a user message of about InputLen tokens answered with about OutputLen tokens,
// the next turn sent ThinkTime after the previous answer ended, behind an optional system prompt
// shared by every session.
type ConversationSpec struct {
	Sessions           int // distinct sessions; 0: unbounded (later sessions repeat earlier ones)
	TurnsMin, TurnsMax int
	SystemPromptLen    int
	InputLen           int
	OutputLen          int
	RangeRatio         float64
	ThinkTime          time.Duration
	Seed               uint64
	Key                string
}

// Validate checks the spec's numbers.
func (c *ConversationSpec) Validate() error {
	switch {
	case c.Sessions < 0:
		return fmt.Errorf("sessions must be >= 1 or None, got %d", c.Sessions)
	case c.TurnsMin < 1 || c.TurnsMax < c.TurnsMin:
		return fmt.Errorf("turns: want 1 <= min <= max, got [%d, %d]", c.TurnsMin, c.TurnsMax)
	case c.SystemPromptLen < 0:
		return fmt.Errorf("system_prompt_len must be >= 0, got %d", c.SystemPromptLen)
	case c.InputLen < 1 || c.OutputLen < 1:
		return fmt.Errorf("input_len and output_len must be >= 1, got %d and %d", c.InputLen, c.OutputLen)
	case c.RangeRatio < 0 || c.RangeRatio >= 1:
		return fmt.Errorf("range_ratio must be in [0, 1), got %v", c.RangeRatio)
	case c.ThinkTime < 0:
		return fmt.Errorf("think_time must be >= 0, got %v", c.ThinkTime)
	}
	return nil
}

// sessionPlan is one session's shape: its user and answer lengths per turn.
type sessionPlan struct{ in, out []int }

// plan draws session s's turns and lengths from the seed; sessions beyond Sessions repeat.
func (c *ConversationSpec) plan(s int) sessionPlan {
	if c.Sessions > 0 {
		s %= c.Sessions
	}
	r := NewRand(c.Seed^uint64(s)*0x9e3779b97f4a7c15, "dataset/conversations/"+c.Key)
	turns := c.TurnsMin + r.IntN(c.TurnsMax-c.TurnsMin+1)
	p := sessionPlan{in: make([]int, turns), out: make([]int, turns)}
	for k := range turns {
		p.in[k] = spread(r, c.InputLen, c.RangeRatio)
		p.out[k] = spread(r, c.OutputLen, c.RangeRatio)
	}
	return p
}

// Turns is how many turns session s has.
func (c *ConversationSpec) Turns(s int) int { return len(c.plan(s).in) }

// Turn is session s's k-th turn (k from 1): the system prompt, every earlier user message and
// answer, then the new user message. The earlier answers are the dataset's own text of the
// answer's length, not what the server said, so a rerun sends the same prompts; a server that
// caches prefixes finds every earlier prompt of the session. Completions send Prompt, the
// messages' contents joined by spaces; chat sends Messages.
func (c *ConversationSpec) Turn(s, k int) Item {
	p := c.plan(s)
	if c.Sessions > 0 {
		s %= c.Sessions
	}
	var msgs []Message
	tokens := 0
	add := func(role string, key uint64, n int) {
		msgs = append(msgs, Message{Role: role, Content: words(c.Seed, key, n)})
		tokens += n
	}
	if c.SystemPromptLen > 0 {
		add("system", streamKey("conversations", c.Key, "system"), c.SystemPromptLen)
	}
	sess := strconv.Itoa(s)
	for j := 0; j < k && j < len(p.in); j++ {
		add("user", streamKey("conversations", c.Key, sess, "user", strconv.Itoa(j)), p.in[j])
		if j < k-1 {
			add("assistant", streamKey("conversations", c.Key, sess, "assistant", strconv.Itoa(j)), p.out[j])
		}
	}
	var b strings.Builder
	for i, m := range msgs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(m.Content)
	}
	return Item{Prompt: b.String(), PromptTokens: tokens, OutputTokens: p.out[min(k, len(p.out))-1], Messages: msgs}
}
