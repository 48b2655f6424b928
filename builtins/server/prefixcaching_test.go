package server

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"starlab/runtime/paramerr"
)

// TestPrefixCachingFlags: enable_prefix_caching becomes each engine's switch, the simulator's
// configuration follows the vLLM flag, and only a set value changes the server's key.
func TestPrefixCachingFlags(t *testing.T) {
	on, off := true, false
	for _, tc := range []struct {
		backend string
		set     *bool
		want    []string // the engine's arguments after the common ones
	}{
		{"vllm", nil, nil},
		{"vllm", &on, []string{"--enable-prefix-caching"}},
		{"vllm", &off, []string{"--no-enable-prefix-caching"}},
		{"sglang", nil, []string{"--enable-metrics"}},
		{"sglang", &on, []string{"--enable-metrics"}},
		{"sglang", &off, []string{"--disable-radix-cache", "--enable-metrics"}},
	} {
		spec := normalized(t, Spec{Backend: tc.backend, Model: "Llama-3.1-8B", GPUs: 1, EnablePrefixCaching: tc.set})
		argv := engines[tc.backend].(ProcessEngine).Command([]string{"x"}, spec, "h", 1, "").Argv
		i := 0
		for i < len(argv) && argv[i] != "--port" {
			i++
		}
		if got := argv[min(i+2, len(argv)):]; !reflect.DeepEqual(got, tc.want) && !(len(got) == 0 && tc.want == nil) {
			t.Errorf("%s %v: %q, want %q", tc.backend, tc.set, got, tc.want)
		}
		if tc.backend != "vllm" {
			continue
		}
		sim := spec
		sim.Backend = BackendSim
		cfg, err := simConfig(sim)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.NoPrefixCaching != (tc.set != nil && !*tc.set) {
			t.Errorf("sim %v: NoPrefixCaching %v", tc.set, cfg.NoPrefixCaching)
		}
	}
	keys := map[string]bool{}
	for _, set := range []*bool{nil, &on, &off} {
		s := normalized(t, Spec{Backend: "sim", Model: "Llama-3.1-8B", GPUs: 1, EnablePrefixCaching: set})
		keys[s.Key()] = true
		data, _ := json.Marshal(s)
		if strings.Contains(string(data), "prefix") != (set != nil) {
			t.Errorf("%v: %s", set, data)
		}
	}
	if len(keys) != 3 {
		t.Errorf("keys %v: want three servers", keys)
	}
}

func TestPrefixCachingUnsupportedEngines(t *testing.T) {
	on := false
	for _, s := range []Spec{
		{Backend: "llama.cpp", Model: "/m/t.gguf", EnablePrefixCaching: &on},
		{Backend: "ollama", Model: "/m/t.gguf", EnablePrefixCaching: &on},
		{Backend: "external", URL: "http://h:1", EnablePrefixCaching: &on},
	} {
		err := s.Normalize()
		var pe *paramerr.Error
		if !errors.As(err, &pe) || pe.Param != "enable_prefix_caching" || !strings.Contains(err.Error(), s.Backend) {
			t.Errorf("%s: %v", s.Backend, err)
		}
	}
}
