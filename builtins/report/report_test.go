package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"image"
	_ "image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.md from the current output")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", name, got)
	}
}

func TestSeedsReportGolden(t *testing.T) {
	dir, r := fixtureRun(t)
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "seeds.md", md)
	for _, bad := range []string{"must-not-appear", "2025-11-26"} {
		if strings.Contains(string(md), bad) {
			t.Errorf("report.md shows %q: hosts and times belong in manifest.json only", bad)
		}
	}
	checkPlots(t, dir, md)
	for _, f := range []string{"sweeps/seed003_ramp.csv", "sweeps/full.csv", "tables/sla.csv", "report.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}

	// Regenerate from the directory alone gives the same report.md.
	os.Remove(filepath.Join(dir, "report.md"))
	os.RemoveAll(filepath.Join(dir, "plots"))
	if err := Regenerate(dir); err != nil {
		t.Fatal(err)
	}
	again, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(md, again) {
		t.Errorf("Regenerate changed report.md:\n%s", again)
	}
	checkPlots(t, dir, again)
}

// checkPlots decodes every plot report.md embeds, as PNG and as SVG.
func checkPlots(t *testing.T, dir string, md []byte) {
	t.Helper()
	n := 0
	for _, line := range strings.Split(string(md), "\n") {
		i := strings.Index(line, "](plots/")
		if !strings.HasPrefix(line, "![") || i < 0 {
			continue
		}
		png := strings.TrimSuffix(line[i+2:], ")")
		n++
		f, err := os.Open(filepath.Join(dir, png))
		if err != nil {
			t.Error(err)
			continue
		}
		img, format, err := image.Decode(f)
		f.Close()
		if err != nil || format != "png" || img.Bounds().Dx() < 100 {
			t.Errorf("%s: not a valid PNG (%v, %q)", png, err, format)
		}
		svg, err := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(png, ".png")+".svg"))
		if err != nil {
			t.Error(err)
			continue
		}
		if err := xmlWellFormed(svg); err != nil {
			t.Errorf("%s: %v", strings.TrimSuffix(png, ".png")+".svg", err)
		}
	}
	if n == 0 {
		t.Error("report.md embeds no plots")
	}
}

func xmlWellFormed(data []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(data))
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		return errors.New("root element is " + root + ", want svg")
	}
	return nil
}

func TestRegenerateWithoutReportJSON(t *testing.T) {
	dir, _ := fixtureRun(t)
	if err := Regenerate(dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "### seed004_concurrency") || strings.Contains(string(md), "## Knees") {
		t.Errorf("want the sweeps and no knees:\n%s", md)
	}
}
