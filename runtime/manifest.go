package runtime

import (
	"encoding/json"
	"os"
	"runtime/debug"
	"sync"

	"starlab/runtime/atomicfile"
)

// Manifest is manifest.json: what ran, with what, where, when and how it ended. It is rewritten
// atomically (temp file + rename) at every change, so it is valid JSON at any moment a run dies.
type Manifest struct {
	mu     sync.Mutex
	path   string
	fields map[string]any
}

// LoadManifest reads path if it exists, or starts an empty manifest that will be written there.
func LoadManifest(path string) (*Manifest, error) {
	m := &Manifest{path: path, fields: map[string]any{}}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &m.fields); err != nil {
		return nil, err
	}
	return m, nil
}

// Get returns a top-level field.
func (m *Manifest) Get(key string) (any, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.fields[key]
	return v, ok
}

// Set records a top-level field and writes the file.
func (m *Manifest) Set(key string, value any) error {
	return m.Update(map[string]any{key: value})
}

// Update records several fields at once and writes the file.
func (m *Manifest) Update(fields map[string]any) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, v := range fields {
		if v == nil {
			delete(m.fields, k)
			continue
		}
		m.fields[k] = v
	}
	data, err := json.MarshalIndent(m.fields, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(m.path, append(data, '\n'))
}

// Version is starlab's version: the module version, or the VCS revision it was built from.
func Version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if (v == "" || v == "(devel)") && rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		return "devel-" + rev + modified
	}
	if v == "" || v == "(devel)" {
		return "devel"
	}
	return v
}
