package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"starlab/runtime/atomicfile"
)

// Write records r as report.json in dir, then renders everything else from the run directory
// (see Regenerate). The manifest summary, sweep list and calibration sections are refreshed from
// dir.
func Write(dir string, r Report) error {
	r, sweeps, err := prepare(dir, r)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("report.json: %w", err)
	}
	if err := writeFile(filepath.Join(dir, "report.json"), append(data, '\n')); err != nil {
		return err
	}
	return render(dir, r, sweeps)
}

// prepare completes r from the run directory (the manifest summary, the sweep list, what the
// calibrations give) and loads its sweeps, twin points outside their calibration's range flagged.
func prepare(dir string, r Report) (Report, []Sweep, error) {
	sum, err := ReadSummary(dir)
	if err != nil {
		return r, nil, err
	}
	r.Manifest = sum
	sweeps, err := LoadSweeps(dir, r.Given)
	if err != nil {
		return r, nil, err
	}
	r.Sweeps = r.Sweeps[:0]
	for _, s := range sweeps {
		r.Sweeps = append(r.Sweeps, s.Name)
	}
	for i := range r.Given {
		r.Given[i].Points = safeRows(r.Given[i].Points)
	}
	for i := range r.Tables {
		r.Tables[i].Rows = safeRows(r.Tables[i].Rows)
	}
	if err := addTwins(dir, &r, sweeps); err != nil {
		return r, nil, err
	}
	return r, sweeps, nil
}

// Regenerate rebuilds report.md, plots/*.png|svg, sweeps/*.csv and tables/*.csv from the run
// directory alone: manifest.json, sweeps/*.json, calibrations/*.json and report.json. `starlab
// report RUNDIR` calls it. A run without report.json (the plan never called report()) gets a
// report of its sweeps.
func Regenerate(dir string) error {
	var r Report
	data, err := os.ReadFile(filepath.Join(dir, "report.json"))
	switch {
	case os.IsNotExist(err):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("report.json: %w", err)
		}
	}
	if _, err := os.Stat(dir); err != nil {
		return err
	}
	return Write(dir, r)
}

func render(dir string, r Report, sweeps []Sweep) error {
	for _, s := range sweeps {
		data, err := sweepCSV(s)
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dir, "sweeps", s.Name+".csv"), data); err != nil {
			return err
		}
		if s.hasSlices() {
			data, err := slicesCSV(s)
			if err != nil {
				return err
			}
			if err := writeFile(filepath.Join(dir, "sweeps", s.Name+".slices.csv"), data); err != nil {
				return err
			}
		}
	}
	for _, t := range r.Tables {
		data, err := tableCSV(t.Columns, t.Rows)
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dir, "tables", t.Name+".csv"), data); err != nil {
			return err
		}
	}
	plots := PlanPlots(r, sweeps)
	if err := WritePlots(dir, plots.All(sweeps)); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "report.md"), []byte(Markdown(r, sweeps, plots)))
}

func safeRows(rows []map[string]any) []map[string]any {
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		out[i] = jsonSafe(r).(map[string]any)
	}
	return out
}

// writeFile writes a report file atomically, so a reader never sees half a report.
func writeFile(path string, data []byte) error { return atomicfile.Write(path, data) }
