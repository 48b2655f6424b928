package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// loadedSource is where some of a loaded sweep's points came from (load_results writes
// sources/NAME.json): a file, its format and the tool that wrote it.
type loadedSource struct {
	Path   string `json:"path"`
	Format string `json:"format"`
	Tool   string `json:"tool"`
	Model  string `json:"model"`
	Points []int  `json:"points"`
}

// readSources reads sources/NAME.json for a sweep that load_results made; nil for measured ones.
func readSources(dir, name string) []loadedSource {
	data, err := os.ReadFile(filepath.Join(dir, "sources", name+".json"))
	if err != nil {
		return nil
	}
	var f struct {
		Sources []loadedSource `json:"sources"`
	}
	if json.Unmarshal(data, &f) != nil {
		return nil
	}
	return f.Sources
}

// writeSources says, under a loaded sweep's table, that its points were read from other tools'
// files and which, so a reader never takes them for measurements of this run.
func writeSources(b *strings.Builder, s Sweep) {
	if len(s.sources) == 0 {
		return
	}
	b.WriteString("Loaded, not measured by this run:\n\n")
	for _, src := range s.sources {
		what := src.Format
		if src.Tool != "" && src.Tool != src.Format {
			what += ", " + src.Tool
		}
		if src.Model != "" {
			what += "; model " + src.Model
		}
		fmt.Fprintf(b, "- `%s` (%s): %d point(s)\n", src.Path, what, len(src.Points))
	}
	b.WriteString("\n")
}
