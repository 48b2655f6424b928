package sim

import (
	"bytes"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"starlab/builtins/virtual"
)

// TestMetricsExpfmt parses /metrics output with Prometheus' own parser, as the load generator
// does.
func TestMetricsExpfmt(t *testing.T) {
	s := mustVirtual(t, Config{Model: "Llama-3.1-8B"}, 1)
	s.Submit(0, virtual.Request{PromptTokens: 10, MaxTokens: 5, IgnoreEOS: true}, virtual.Events{})
	s.RunUntil(time.Second)
	var b bytes.Buffer
	s.WriteMetrics(&b)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(&b)
	if err != nil {
		t.Fatal(err)
	}
	if g := fams["vllm:generation_tokens_total"].Metric[0].Counter.GetValue(); g != 5 {
		t.Errorf("generation tokens %v", g)
	}
}
