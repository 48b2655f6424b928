package sim

import (
	"encoding/json"
	"fmt"
	"os"

	"starlab/runtime/jsonnum"
)

// Calibration is a simulator fitted to a real server: calibrations/NAME.json, written by the
// calibrate() builtin and read by start_vllm(calibration=...) and `starlab sim serve
// --calibration FILE`. The simulator it configures is the server's twin: its step time is Step
// instead of the roofline and its scheduling limits are the real engine's.
type Calibration struct {
	Name string `json:"name"`
	// Engine is the engine measured (vllm, sglang, llama.cpp, ollama, sim); Model and GPU are the
	// model served and the catalog GPU it ran on ("" for a CPU engine).
	Engine string `json:"engine"`
	Model  string `json:"model"`
	GPU    string `json:"gpu,omitempty"`
	// Confidence is the level of CI.
	Confidence float64    `json:"confidence"`
	Step       LinearCost `json:"step"`
	// StdErr and CI hold each fitted parameter's standard error and interval (LinearParams
	// names). A parameter the measurements cannot separate from the others has neither, and is
	// listed in Fit.Unidentified.
	StdErr map[string]float64    `json:"std_err"`
	CI     map[string][2]float64 `json:"ci"`
	Limits Limits                `json:"limits"`
	Fit    FitQuality            `json:"fit"`
	// Range is the operating range the fit saw; predictions outside it extrapolate.
	Range  LoadRange `json:"range"`
	Source Source    `json:"source"`
}

// Limits are the measured engine's own scheduling limits, per replica (data-parallel rank).
type Limits struct {
	// MaxNumSeqs is vLLM's max_num_seqs, SGLang's max_running_requests, llama.cpp's slots.
	MaxNumSeqs int `json:"max_num_seqs"`
	// MaxNumBatchedTokens is the tokens one step may compute (llama.cpp's n_batch).
	MaxNumBatchedTokens int `json:"max_num_batched_tokens"`
	// KVTokens is the KV cache in tokens (0: the simulator's memory profile decides); KVSource
	// says where it came from ("startup log", or "" when unknown).
	KVTokens int    `json:"kv_tokens"`
	KVSource string `json:"kv_source,omitempty"`
	// MaxModelLen is the longest request (llama.cpp: one slot's context).
	MaxModelLen    int `json:"max_model_len"`
	TensorParallel int `json:"tensor_parallel"`
}

// FitQuality says how well the twin reproduces the measurements it was fitted to.
type FitQuality struct {
	// R2 is 1 − SS_res/SS_tot over the log-scale observations; RMSEPct and MAPEPct are the
	// relative errors of the twin's predictions of them.
	R2           jsonnum.Float `json:"r2"` // null when the observations do not vary
	RMSEPct      float64       `json:"rmse_pct"`
	MAPEPct      float64       `json:"mape_pct"`
	Observations int           `json:"observations"`
	Parameters   int           `json:"parameters"`
	Iterations   int           `json:"iterations"`
	Unidentified []string      `json:"unidentified,omitempty"`
	// Fixed lists parameters held at a given value (not fitted); AtZero those the fit set to 0,
	// the boundary, because the measurements fit better without them.
	Fixed  []string   `json:"fixed,omitempty"`
	AtZero []string   `json:"at_zero,omitempty"`
	Points []FitPoint `json:"points"`
}

// FitPoint is one calibration point: what was measured, what the fitted twin predicts for the
// same load and requests, and the relative error of each metric (percent, signed).
type FitPoint struct {
	Sweep       string             `json:"sweep,omitempty"`
	Index       int                `json:"index"`
	Load        string             `json:"load"`
	Concurrency int                `json:"concurrency,omitempty"`
	RequestRate float64            `json:"request_rate,omitempty"`
	Measured    map[string]float64 `json:"measured"`
	Predicted   map[string]float64 `json:"predicted"`
	ErrorPct    map[string]float64 `json:"error_pct"`
}

// LoadRange bounds the calibration points: requests in flight at the engine, prompt and output
// lengths (of the requests when they were known, else the points' means), and throughput.
type LoadRange struct {
	Running           [2]float64 `json:"running"`
	InputTokens       [2]float64 `json:"input_tokens"`
	OutputTokens      [2]float64 `json:"output_tokens"`
	RequestThroughput [2]float64 `json:"request_throughput"`
}

// Source names the measurements.
type Source struct {
	Server  string   `json:"server,omitempty"`
	Sweeps  []string `json:"sweeps,omitempty"`
	Engine  string   `json:"engine_version,omitempty"`
	Samples int      `json:"requests"`
}

// LoadCalibration reads a calibration file and checks it.
func LoadCalibration(path string) (*Calibration, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Calibration
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &c, nil
}

// Validate checks what the simulator needs from a calibration.
func (c *Calibration) Validate() error {
	if err := c.Step.Validate(); err != nil {
		return fmt.Errorf("step: %v", err)
	}
	l := c.Limits
	if l.MaxNumSeqs < 0 || l.MaxNumBatchedTokens < 0 || l.KVTokens < 0 || l.MaxModelLen < 0 || l.TensorParallel < 0 {
		return fmt.Errorf("limits: negative value in %+v", l)
	}
	return nil
}

// Apply makes cfg the twin: the calibrated step time, and the engine's limits wherever cfg does
// not set its own. The KV cache scales with the tensor-parallel size relative to the measured
// one (a lower bound: the weights' share of each GPU shrinks too).
func (c *Calibration) Apply(cfg *Config) {
	step := c.Step
	step.CalibratedTP = max(c.Limits.TensorParallel, 1)
	cfg.Cost.Linear = &step
	if cfg.GPU == "" {
		cfg.GPU = c.GPU
	}
	if cfg.MaxNumSeqs == 0 {
		cfg.MaxNumSeqs = c.Limits.MaxNumSeqs
	}
	if cfg.MaxNumBatchedTokens == 0 {
		cfg.MaxNumBatchedTokens = c.Limits.MaxNumBatchedTokens
	}
	if cfg.MaxModelLen == 0 {
		cfg.MaxModelLen = c.Limits.MaxModelLen
	}
	if cfg.NumGPUBlocksOverride == 0 && c.Limits.KVTokens > 0 {
		tp := max(cfg.TensorParallel, 1)
		cfg.NumGPUBlocksOverride = c.Limits.KVTokens * tp / step.CalibratedTP / 16
	}
}
