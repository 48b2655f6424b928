package server

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"starlab/builtins/catalog/gguf"
	"starlab/builtins/sim"
)

// testCalibration is a small calibration of llama.cpp on the CPU: 3 slots of 1024 tokens.
func testCalibration(model string) sim.Calibration {
	return sim.Calibration{Name: "cpu-twin", Engine: EngineLlamaCpp, Model: model, Confidence: 0.95,
		Step:   sim.LinearCost{FixedMs: 8, PerPrefillTokenMs: 0.05, PerDecodeSeqMs: 1.5, PerContextTokenMs: 0.001, CalibratedTP: 1},
		Limits: sim.Limits{MaxNumSeqs: 3, MaxNumBatchedTokens: 2048, KVTokens: 3072, KVSource: "startup log", MaxModelLen: 1024, TensorParallel: 1}}
}

// writeCalibrationFile writes c as calibrate() does and returns its path.
func writeCalibrationFile(t testing.TB, dir, name string, c sim.Calibration) string {
	t.Helper()
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeGGUFHeader writes a llama GGUF file with a shape and one small tensor: what the simulator
// reads of a model file.
func writeGGUFHeader(t testing.TB, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kvs := []gguf.KV{{Key: "general.architecture", Value: "llama"}, {Key: "general.name", Value: "tiny"},
		{Key: "llama.context_length", Value: uint32(4096)}, {Key: "llama.block_count", Value: uint32(2)},
		{Key: "llama.embedding_length", Value: uint32(64)}, {Key: "llama.feed_forward_length", Value: uint32(256)},
		{Key: "llama.attention.head_count", Value: uint32(4)}, {Key: "llama.attention.head_count_kv", Value: uint32(2)},
		{Key: "llama.vocab_size", Value: uint32(1000)}}
	emb := gguf.Tensor{Name: "token_embd.weight", Dims: []uint64{64, 1000}, Type: gguf.F32,
		Data: func(w io.Writer) error { _, err := w.Write(make([]byte, 64*1000*4)); return err }}
	if _, err := gguf.Write(f, kvs, []gguf.Tensor{emb}); err != nil {
		t.Fatal(err)
	}
}

// A twin (backend sim with a calibration) is virtual in a run that is not, takes its model and
// limits from the calibration, and reports the slots of the engine it is the twin of.
func TestTwinStartsVirtual(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny.gguf")
	writeGGUFHeader(t, model)
	ref, err := LoadCalibrationRef(writeCalibrationFile(t, dir, "cpu-twin.json", testCalibration(model)))
	if err != nil {
		t.Fatal(err)
	}
	m := newTestManager(t)
	h, err := m.Start(context.Background(), Spec{Backend: BackendSim, GPUs: 1, Calibration: ref})
	if err != nil {
		t.Fatal(err)
	}
	info := h.Info()
	if !info.Virtual || info.Calibration != "cpu-twin" || info.URL != "virtual://tiny-llamacpp-cpu-twin" || info.Model != model {
		t.Fatalf("info %+v", info)
	}
	if kv := info.KVCache; kv == nil || kv.Slots != 3 || kv.SlotContext != 1024 || kv.Tokens != 3072 || kv.MaxConcurrency != 3 {
		t.Fatalf("kv_cache %+v, want the calibrated 3 slots of 1024 tokens", info.KVCache)
	}
	if info.Config["calibration"] != "cpu-twin" {
		t.Errorf("config %v", info.Config)
	}
	if e := ManifestEntries([]Info{info})[0]; e.Calibration != "cpu-twin" || !e.Virtual {
		t.Errorf("manifest entry %+v", e)
	}
	// The virtual engine the sweeps get is the twin: calibrated step time and limits.
	vs, err := h.NewVirtual(1)
	if err != nil || vs == nil {
		t.Fatal(err)
	}
	cfg, _ := simConfig(h.Spec)
	r, err := sim.Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Cost.Linear == nil || r.Cost.Linear.FixedMs != 8 || r.MaxNumSeqs != 3 || r.MaxModelLen != 1024 || r.KVTokens != 3072 {
		t.Errorf("resolved twin: linear %+v, seqs %d, len %d, kv %d", r.Cost.Linear, r.MaxNumSeqs, r.MaxModelLen, r.KVTokens)
	}

	// Given limits override the calibrated ones; slots × context is then the KV cache, as
	// llama.cpp allocates it. Data-parallel replicas each have them.
	h2, err := m.Start(context.Background(), Spec{Backend: BackendSim, Calibration: ref, MaxNumSeqs: 4, MaxModelLen: 512, GPUs: 2, DataParallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	if kv := h2.Info().KVCache; kv.Slots != 4 || kv.SlotContext != 512 || kv.Tokens != 2048 || h2.Info().Name != "tiny-llamacpp-cpu-dp2-twin" {
		t.Errorf("overridden twin: %s %+v", h2.Info().Name, kv)
	}
	cfg, _ = simConfig(h2.Spec)
	if r, err := sim.Resolve(cfg); err != nil || r.DataParallel != 2 || r.MaxNumSeqs != 4 {
		t.Errorf("dp twin: %+v %v", r, err)
	}

	// A changed calibration file is refused rather than silently used under the old identity.
	c := testCalibration(model)
	c.Step.FixedMs = 9
	writeCalibrationFile(t, dir, "cpu-twin.json", c)
	if _, err := h.NewVirtual(1); err == nil || !strings.Contains(err.Error(), "for parameter calibration") || !strings.Contains(err.Error(), "changed since the server started") {
		t.Errorf("changed file: %v", err)
	}
}

// The calibration's content is part of the server's identity; its layout and location are not.
func TestCalibrationKey(t *testing.T) {
	dir := t.TempDir()
	c := testCalibration("Llama-3.1-8B")
	c.Engine, c.GPU = EngineVLLM, "L40S"
	a, err := LoadCalibrationRef(writeCalibrationFile(t, dir, "a.json", c))
	if err != nil {
		t.Fatal(err)
	}
	compact, _ := json.Marshal(c)
	os.MkdirAll(filepath.Join(dir, "elsewhere"), 0o755)
	os.WriteFile(filepath.Join(dir, "elsewhere", "a.json"), compact, 0o644)
	same, err := LoadCalibrationRef(filepath.Join(dir, "elsewhere", "a.json"))
	if err != nil {
		t.Fatal(err)
	}
	c.Step.PerDecodeSeqMs = 1.6
	changed, err := LoadCalibrationRef(writeCalibrationFile(t, dir, "b.json", c))
	if err != nil {
		t.Fatal(err)
	}
	key := func(ref *CalibrationRef) string {
		s := Spec{Backend: BackendSim, GPUs: 1, Calibration: ref}
		if err := s.Normalize(); err != nil {
			t.Fatal(err)
		}
		return s.Key()
	}
	plain := Spec{Backend: BackendSim, Model: "Llama-3.1-8B", GPUs: 1}
	plain.Normalize()
	if key(a) != key(same) || key(a) == key(changed) || key(a) == plain.Key() {
		t.Errorf("keys: a %s, same content %s, changed %s, uncalibrated %s", key(a), key(same), key(changed), plain.Key())
	}
}

func TestCalibrationErrors(t *testing.T) {
	dir := t.TempDir()
	cpu := writeCalibrationFile(t, dir, "cpu.json", testCalibration("Llama-3.1-8B"))
	gpuCal := testCalibration("Llama-3.1-8B")
	gpuCal.Engine, gpuCal.GPU = EngineVLLM, "L40S"
	onGPU := writeCalibrationFile(t, dir, "gpu.json", gpuCal)
	negative := testCalibration("Llama-3.1-8B")
	negative.Step.PerDecodeSeqMs = -1
	invalid := writeCalibrationFile(t, dir, "negative.json", negative)
	notJSON := filepath.Join(dir, "broken.json")
	os.WriteFile(notJSON, []byte(`{"name": "x", "step": `), 0o644)

	for _, tc := range []struct {
		path string
		spec Spec
		want string
	}{
		{filepath.Join(dir, "missing.json"), Spec{GPUs: 1}, "for parameter calibration: .*missing.json: no such file"},
		{notJSON, Spec{GPUs: 1}, "for parameter calibration: not a usable calibration: .*broken.json: unexpected end of JSON input"},
		{invalid, Spec{GPUs: 1}, "for parameter calibration: not a usable calibration: .*negative.json: step: per_decode_seq_ms must be a finite number >= 0"},
		{cpu, Spec{GPUs: 2}, "for parameter tensor_parallel: tensor_parallel=2 .*measured on the CPU.*scale it with data_parallel"},
		{cpu, Spec{GPUs: 1, Backend: BackendVLLM, TensorParallel: 1, DataParallel: 1}, ""},
		{cpu, Spec{GPUs: 4, DataParallel: 4}, ""},
		{onGPU, Spec{GPUs: 4}, ""},
		{onGPU, Spec{GPUs: 1, SimGPU: "H100"}, "for parameter sim_gpu: calibration cpu-twin was measured on L40S"},
	} {
		ref, err := LoadCalibrationRef(tc.path)
		if err == nil {
			spec := tc.spec
			if spec.Backend == "" {
				spec.Backend = BackendSim
			}
			spec.Calibration = ref
			err = spec.Normalize()
		}
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s %+v: %v", filepath.Base(tc.path), tc.spec, err)
			}
			continue
		}
		if err == nil || !matches(tc.want, err.Error()) {
			t.Errorf("%s %+v: got %v, want %q", filepath.Base(tc.path), tc.spec, err, tc.want)
		}
	}
}

// Under --virtual a llama.cpp or ollama server is simulated only as the twin of a calibration.
func TestVirtualSlotEngineNeedsCalibration(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny.gguf")
	writeGGUFHeader(t, model)
	m := newTestManager(t)
	m.Virtual = true
	if _, err := m.Start(context.Background(), Spec{Backend: EngineOllama, Model: model}); err == nil ||
		!strings.Contains(err.Error(), "for parameter calibration: --virtual simulates every server") || !strings.Contains(err.Error(), "give calibration=") {
		t.Fatalf("uncalibrated ollama under --virtual: %v", err)
	}
	ref, err := LoadCalibrationRef(writeCalibrationFile(t, dir, "cal.json", testCalibration(model)))
	if err != nil {
		t.Fatal(err)
	}
	h, err := m.Start(context.Background(), Spec{Backend: EngineOllama, Model: model, MaxModelLen: 1024, MaxNumSeqs: 3, Calibration: ref})
	if err != nil {
		t.Fatal(err)
	}
	info := h.Info()
	if !info.Virtual || info.Calibration != "cpu-twin" || info.Backend != EngineOllama || info.KVCache.Slots != 3 || info.KVCache.SlotContext != 1024 {
		t.Errorf("calibrated ollama under --virtual: %+v %+v", info, info.KVCache)
	}
	// A real vLLM with a calibration is its twin under --virtual too.
	c := testCalibration("Llama-3.1-8B")
	c.Name, c.Engine, c.GPU, c.Limits = "gpu", EngineVLLM, "L40S", sim.Limits{MaxNumSeqs: 32, KVTokens: 16384, MaxModelLen: 4096, TensorParallel: 1}
	ref, err = LoadCalibrationRef(writeCalibrationFile(t, dir, "gpu.json", c))
	if err != nil {
		t.Fatal(err)
	}
	h, err = m.Start(context.Background(), Spec{Model: "Llama-3.1-8B", GPUs: 1, Calibration: ref})
	if err != nil {
		t.Fatal(err)
	}
	if info := h.Info(); info.Calibration != "gpu" || info.KVCache.Tokens != 16384 || info.KVCache.Slots != 0 {
		t.Errorf("calibrated vllm under --virtual: %+v %+v", info, info.KVCache)
	}
	// Without --virtual that server is real: its calibration waits for a --virtual run.
	if s := (Spec{Model: "Llama-3.1-8B", GPUs: 1, Calibration: ref}); s.Twin() {
		t.Error("a vllm server with a calibration counts as a twin")
	}
}

// matches reports whether s matches the regular expression re.
func matches(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// The helpers above, for the script tests of package server_test.
var (
	WriteTestGGUF        = writeGGUFHeader
	WriteTestCalibration = writeCalibrationFile
	CPUCalibration       = testCalibration
)
