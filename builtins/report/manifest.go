package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Summary is the part of manifest.json a report shows: what ran and with what. Times, host and
// durations are left out on purpose, so the same seed in --virtual gives a byte-identical report;
// manifest.json keeps them.
type Summary struct {
	Plan    string            `json:"plan"`
	SHA256  string            `json:"sha256"`
	Seed    uint64            `json:"seed"`
	Params  map[string]string `json:"params"`
	Mode    string            `json:"mode"`
	Virtual bool              `json:"virtual"`
	Starlab string            `json:"starlab"`
	// Confidence is the run's level (--confidence); 0 for a run recorded without one.
	Confidence float64 `json:"confidence,omitempty"`
}

// ReadSummary reads the summary from dir/manifest.json. A missing manifest gives an empty
// summary: a report of tables typed into a plan still renders.
func ReadSummary(dir string) (Summary, error) {
	var s Summary
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if os.IsNotExist(err) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	var m struct {
		Plan struct {
			Path   string `json:"path"`
			SHA256 string `json:"sha256"`
		} `json:"plan"`
		Sets       map[string]string `json:"sets"`
		Seed       uint64            `json:"seed"`
		Confidence float64           `json:"confidence"`
		Mode       string            `json:"mode"`
		Virtual    bool              `json:"virtual"`
		Starlab    string            `json:"starlab"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return s, fmt.Errorf("manifest.json: %w", err)
	}
	return Summary{Plan: m.Plan.Path, SHA256: m.Plan.SHA256, Seed: m.Seed, Params: m.Sets, Mode: m.Mode,
		Virtual: m.Virtual, Starlab: m.Starlab, Confidence: m.Confidence}, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
