package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"starlab/builtins/catalog"
	"starlab/builtins/sim"
	"starlab/runtime/paramerr"
)

// CalibrationRef is the calibration a server is the twin of (calibrate()'s calibrations/NAME.json).
// Its name and content hash are part of the server's identity (Spec.Key): a changed calibration is
// a different server. Where the file lies is not, so a run keeps its keys when it is replayed
// elsewhere.
type CalibrationRef struct {
	Name string `json:"name"`
	// SHA256 is the hash of the calibration's canonical JSON (what the simulator reads from it).
	SHA256 string `json:"sha256"`
	// Path is the absolute file the simulator loads (--calibration PATH).
	Path string `json:"-"`
	// Cal is the calibration read from Path.
	Cal *sim.Calibration `json:"-"`
}

// LoadCalibrationRef reads and checks a calibration file; its errors name the calibration
// parameter.
func LoadCalibrationRef(path string) (*CalibrationRef, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, paramerr.New("calibration", "%v", err)
	}
	c, err := sim.LoadCalibration(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, paramerr.New("calibration", "%s: no such file (a calibrations/NAME.json file that calibrate() wrote)", path)
	}
	if err != nil {
		return nil, paramerr.New("calibration", "not a usable calibration: %v", err)
	}
	if c.Name == "" {
		c.Name = strings.TrimSuffix(filepath.Base(abs), filepath.Ext(abs))
	}
	return &CalibrationRef{Name: c.Name, SHA256: calibrationHash(c), Path: abs, Cal: c}, nil
}

// calibrationHash identifies a calibration by its content, however its file is laid out.
func calibrationHash(c *sim.Calibration) string {
	data, _ := json.Marshal(c)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// slotEngine reports whether an engine decodes in slots of a fixed context (llama.cpp, ollama).
func slotEngine(engine string) bool { return engine == EngineLlamaCpp || engine == EngineOllama }

// Twin reports whether the spec is a calibrated twin: the simulator with a calibration, which
// runs in virtual time even when the run is not --virtual.
func (s Spec) Twin() bool { return s.Backend == BackendSim && s.Calibration != nil }

// checkCalibration holds a spec to what its calibration can predict.
func (s *Spec) checkCalibration() error {
	ref := s.Calibration
	if ref == nil {
		return nil
	}
	c := ref.Cal
	if from := max(c.Limits.TensorParallel, 1); c.GPU == "" && s.TensorParallel > from {
		return paramerr.New("tensor_parallel", "tensor_parallel=%d (gpus / data_parallel), but calibration %s was measured on the CPU: "+
			"its step time has no GPU share to split across ranks and no interconnect for the all-reduce; "+
			"scale it with data_parallel (replicas) instead", s.TensorParallel, ref.Name)
	}
	if s.SimGPU != "" && c.GPU != "" {
		want, err1 := catalog.LookupGPU(c.GPU)
		got, err2 := catalog.LookupGPU(s.SimGPU)
		if err1 == nil && err2 == nil && want.Name != got.Name {
			return paramerr.New("sim_gpu", "calibration %s was measured on %s; its step time does not carry over to %s (calibrate on that GPU)", ref.Name, want.Name, got.Name)
		}
	}
	return nil
}

// twinSlotBlocks is the KV cache, in blocks, of a llama.cpp or ollama twin whose slots or slot
// context differ from the calibrated server's: the engine allocates slots × context tokens, so
// the calibrated KV size no longer holds. 0 keeps the calibrated size (or the plan's own
// --num-gpu-blocks-override).
func twinSlotBlocks(s Spec) int {
	c := s.Calibration.Cal
	if !slotEngine(c.Engine) && !slotEngine(s.Backend) {
		return 0
	}
	for _, a := range s.ExtraArgs {
		if strings.Contains(strings.ReplaceAll(a, "_", "-"), "num-gpu-blocks-override") {
			return 0
		}
	}
	seqs, ctx := s.MaxNumSeqs, s.MaxModelLen
	if seqs == 0 {
		seqs = c.Limits.MaxNumSeqs
	}
	if ctx == 0 {
		ctx = c.Limits.MaxModelLen
	}
	if seqs <= 0 || ctx <= 0 || (c.Limits.KVTokens > 0 && seqs == c.Limits.MaxNumSeqs && ctx == c.Limits.MaxModelLen) {
		return 0
	}
	return (seqs*ctx + catalog.BlockSize - 1) / catalog.BlockSize
}

// calibrationArgs are the simulator flags that make it spec's twin.
func calibrationArgs(s Spec) []string {
	if s.Calibration == nil {
		return nil
	}
	args := []string{"--calibration", s.Calibration.Path}
	if n := twinSlotBlocks(s); n > 0 {
		args = append(args, "--num-gpu-blocks-override", strconv.Itoa(n))
	}
	return args
}
