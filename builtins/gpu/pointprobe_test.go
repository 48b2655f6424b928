package gpu

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.starlark.net/starlark"

	"starlab/builtins/server"
	"starlab/builtins/sim"
	"starlab/runtime"
)

// TestPointProbe builds probes the way the sweep binding does, for servers
// a plan started: an in-process simulator gets a wall probe, an external
// server none, and a virtual point a probe over its simulator.
func TestPointProbe(t *testing.T) {
	got := map[string]PointTelemetry{}
	probe := starlark.NewBuiltin("probe", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		h, _ := server.HandleOf(args[0])
		r := runtime.FromThread(thread)
		var vs *sim.VirtualServer
		if h.Virtual() {
			var err error
			if vs, err = h.NewVirtual(1); err != nil {
				return nil, err
			}
		}
		hook := PointProbe(r, h, vs)
		if hook == nil {
			return starlark.None, nil
		}
		pr, err := hook(r.Ctx)
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		if vs != nil {
			t0 = VirtualEpoch
		}
		pr.Mark(t0)
		if vs != nil {
			vs.RunUntil(time.Second)
			pr.Tick(t0.Add(time.Second))
			vs.RunUntil(2 * time.Second)
			pr.Mark(t0.Add(2 * time.Second))
		} else {
			waitRounds(t, pr.s, t0, 2)
			pr.Mark(time.Now())
		}
		data, err := pr.Finish(10)
		if err != nil {
			return nil, err
		}
		got[h.Name()] = decodePoint(t, data)
		return starlark.True, nil
	})
	run := func(plan string, virtual bool) {
		path := filepath.Join(t.TempDir(), "plan.star")
		if err := os.WriteFile(path, []byte(plan), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := runtime.Execute(context.Background(), runtime.Options{
			PlanPath: path, Seed: runtime.DefaultSeed, Out: filepath.Join(t.TempDir(), "run"), Virtual: virtual,
			LogOut: zerolog.NewTestWriter(t), LogLevel: zerolog.WarnLevel, Extra: starlark.StringDict{"probe": probe},
		})
		if err != nil || out.Err != nil {
			t.Fatalf("%v %v", err, out.Err)
		}
	}
	run(`
s = start_vllm("Llama-3.1-8B", backend = "sim", name = "wall")
if not probe(s): fail("no probe for a sim server")
e = start_vllm(backend = "external", url = s.url, name = "ext")
if probe(e) != None: fail("a probe for an external server")
`, false)
	run(`
if not probe(start_vllm("Llama-3.1-8B", gpus = 2, data_parallel = 2, name = "virt")): fail("no virtual probe")
`, true)

	for name, devices := range map[string]int{"wall": 1, "virt": 2} {
		p, ok := got[name]
		if !ok || len(p.Devices) != devices || p.EnergyJ == nil || *p.EnergyJ <= 0 || p.JoulesPerOutputToken == nil {
			t.Errorf("%s: %+v", name, p)
		}
	}
	if v := got["virt"]; !v.Start.Equal(VirtualEpoch) || v.End != VirtualEpoch.Add(2*time.Second) {
		t.Errorf("virtual window %v..%v", v.Start, v.End)
	}
}
