package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const startPlan = `s = start_vllm("Llama-3.1-8B", sim_gpu = "L40S", max_model_len = 4096, ready_timeout = "60s")
print("engine=%s version=%s" % (s.engine, s.engine_version))
`

// --engine-cmd names an engine's command (--vllm-cmd is its vLLM alias); the manifest lists each
// server with its engine and version.
func TestEngineCmdFlag(t *testing.T) {
	bin, _ := filepath.Abs("testdata/vllm")
	t.Setenv("STARLAB_BIN", os.Args[0])
	t.Setenv("STARLAB_VLLM", "")
	t.Setenv("PATH", t.TempDir()) // no vllm on PATH: only the flags can find it
	tmp := t.TempDir()
	plan := writeFile(t, tmp, "plan.star", startPlan)
	for i, flags := range [][]string{{"--engine-cmd", "vllm=" + bin}, {"--vllm-cmd", bin}} {
		dir := filepath.Join(tmp, "run"+string(rune('a'+i)))
		code, stdout, stderr := runCLI(append([]string{"run", plan, "--out", dir, "--log-format", "json"}, flags...)...)
		if code != 0 || !strings.Contains(stdout, "engine=vllm version=0.11.2") {
			t.Fatalf("%v: exit %d:\n%s%s", flags, code, stdout, stderr)
		}
		var m struct {
			Servers []struct {
				Name, Engine, Model string
				EngineVersion       string   `json:"engine_version"`
				Command             []string `json:"command"`
			} `json:"servers"`
		}
		data, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
		if err := json.Unmarshal(data, &m); err != nil || len(m.Servers) != 1 {
			t.Fatalf("manifest servers: %v\n%s", err, data)
		}
		if s := m.Servers[0]; s.Engine != "vllm" || s.EngineVersion != "0.11.2" || s.Model != "Llama-3.1-8B" || s.Command[0] != bin {
			t.Fatalf("manifest server entry: %+v", s)
		}
	}
	for _, flags := range [][]string{{"--engine-cmd", "tgi=/x"}, {"--engine-cmd", "sim=/x"}, {"--engine-cmd", "vllm"},
		{"--engine-cmd", "vllm=/a", "--vllm-cmd", "/b"}} {
		if code, _, stderr := runCLI(append([]string{"run", plan, "--out", filepath.Join(tmp, "bad")}, flags...)...); code != 2 {
			t.Errorf("%v: exit %d, want a usage error:\n%s", flags, code, stderr)
		}
	}
}
