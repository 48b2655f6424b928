package server

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"starlab/runtime"
	"starlab/runtime/paramerr"
)

// slurmEnv sets the Slurm variables starlab reads: env's, the others unset (empty).
func slurmEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range append([]string{"SLURM_JOB_ID", "SLURMD_NODENAME"}, allocationGPUVars...) {
		t.Setenv(k, env[k])
	}
}

func TestDetectAllocation(t *testing.T) {
	job := func(kv ...string) map[string]string {
		env := map[string]string{"SLURM_JOB_ID": "42", "SLURMD_NODENAME": "node1"}
		for i := 0; i < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	for _, tc := range []struct {
		name                 string
		env                  map[string]string
		gpus, source, visibl string // comma lists; gpus "-" means no allocation at all
		err                  string
	}{
		{name: "no job", env: map[string]string{"CUDA_VISIBLE_DEVICES": "0,1"}, gpus: "-"},
		{name: "cgroup renumbers the job's GPUs", env: job("SLURM_JOB_GPUS", "1,3", "CUDA_VISIBLE_DEVICES", "0,1"),
			gpus: "1,3", source: "SLURM_JOB_GPUS", visibl: "0,1"},
		{name: "no cgroup: global IDs", env: job("SLURM_JOB_GPUS", "1,3", "CUDA_VISIBLE_DEVICES", "1,3"),
			gpus: "1,3", source: "SLURM_JOB_GPUS", visibl: "1,3"},
		{name: "range", env: job("SLURM_JOB_GPUS", "0-3"), gpus: "0,1,2,3", source: "SLURM_JOB_GPUS", visibl: "0,1,2,3"},
		{name: "list with ranges", env: job("SLURM_JOB_GPUS", "0,2-3, 6"), gpus: "0,2,3,6", source: "SLURM_JOB_GPUS", visibl: "0,2,3,6"},
		{name: "step of a job, cgroup", env: job("SLURM_JOB_GPUS", "4-7", "SLURM_STEP_GPUS", "6", "CUDA_VISIBLE_DEVICES", "0"),
			gpus: "4,5,6,7", source: "SLURM_JOB_GPUS", visibl: "0"},
		{name: "step only", env: job("SLURM_STEP_GPUS", "2,3", "CUDA_VISIBLE_DEVICES", "2,3"),
			gpus: "2,3", source: "SLURM_STEP_GPUS", visibl: "2,3"},
		{name: "narrowed to a GPU of the job", env: job("SLURM_JOB_GPUS", "1,3", "CUDA_VISIBLE_DEVICES", "3"),
			gpus: "1,3", source: "SLURM_JOB_GPUS", visibl: "3"},
		{name: "CUDA_VISIBLE_DEVICES as Slurm set it", env: job("CUDA_VISIBLE_DEVICES", "2,3"),
			gpus: "2,3", source: "CUDA_VISIBLE_DEVICES", visibl: "2,3"},
		{name: "UUIDs stay whole", env: job("CUDA_VISIBLE_DEVICES", "GPU-8a1b-22cd"),
			gpus: "GPU-8a1b-22cd", source: "CUDA_VISIBLE_DEVICES", visibl: "GPU-8a1b-22cd"},
		{name: "GPU_DEVICE_ORDINAL", env: job("GPU_DEVICE_ORDINAL", "0"), gpus: "0", source: "GPU_DEVICE_ORDINAL", visibl: "0"},
		{name: "job without GPUs", env: job(), err: "Slurm job 42 has no GPUs"},
		{name: "GRES without device files", env: job("CUDA_VISIBLE_DEVICES", "NoDevFiles"), err: "Slurm job 42 has no GPUs"},
		{name: "salloc shell on the submitting host", env: map[string]string{"SLURM_JOB_ID": "42", "SLURM_JOB_GPUS": "0"},
			gpus: "0", source: "SLURM_JOB_GPUS", err: "SLURMD_NODENAME is unset"},
		{name: "CUDA_VISIBLE_DEVICES wider than the job", env: job("SLURM_JOB_GPUS", "1,3", "CUDA_VISIBLE_DEVICES", "0,1,2,3"),
			gpus: "1,3", source: "SLURM_JOB_GPUS", err: "CUDA_VISIBLE_DEVICES=0,1,2,3 names 4 GPUs, but Slurm job 42 has 2"},
		{name: "CUDA_VISIBLE_DEVICES outside the job", env: job("SLURM_JOB_GPUS", "1,3", "CUDA_VISIBLE_DEVICES", "0"),
			gpus: "1,3", source: "SLURM_JOB_GPUS", err: "are not among them"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slurmEnv(t, tc.env)
			a := DetectAllocation(os.Getenv)
			if tc.gpus == "-" {
				if a != nil {
					t.Fatalf("outside a job: %+v", a)
				}
				return
			}
			if a == nil || a.JobID != "42" {
				t.Fatalf("job not detected: %+v", a)
			}
			if got := strings.Join(a.GPUs, ","); got != tc.gpus || a.Source != tc.source {
				t.Errorf("GPUs %q from %q, want %q from %q", got, a.Source, tc.gpus, tc.source)
			}
			if got := strings.Join(a.Visible, ","); got != tc.visibl {
				t.Errorf("pool %q, want %q", got, tc.visibl)
			}
			if (a.err == nil) != (tc.err == "") || a.err != nil && !strings.Contains(a.err.Error(), tc.err) {
				t.Errorf("err %v, want %q", a.err, tc.err)
			}
		})
	}
}

// TestAllocatorInsideJob: local servers get disjoint GPUs of the job and never one outside it,
// whatever count NVML reports for the node.
func TestAllocatorInsideJob(t *testing.T) {
	type take struct {
		n       int
		visible string // the server's CUDA_VISIBLE_DEVICES
		err     string
	}
	for _, tc := range []struct {
		name  string
		env   map[string]string
		total int // what NVML or CUDA_VISIBLE_DEVICES told the manager
		takes []take
	}{
		{"no job", map[string]string{"CUDA_VISIBLE_DEVICES": "4,5"}, 2, []take{
			{n: 1, visible: "4"}, {n: 1, visible: "5"}, {n: 1, err: "only 0 of 2 are free (server s0 holds GPU 0; server s1 holds GPU 1)"}}},
		{"1,3 renumbered 0,1 on an 8-GPU node", map[string]string{"SLURM_JOB_ID": "7", "SLURMD_NODENAME": "n", "SLURM_JOB_GPUS": "1,3", "CUDA_VISIBLE_DEVICES": "0,1"}, 8, []take{
			{n: 1, visible: "0"}, {n: 1, visible: "1"}, {n: 1, err: "only 0 of 2 are free in Slurm job 7"}}},
		{"CUDA_VISIBLE_DEVICES unset: the job's global IDs", map[string]string{"SLURM_JOB_ID": "7", "SLURMD_NODENAME": "n", "SLURM_JOB_GPUS": "1,3"}, -1, []take{
			{n: 1, visible: "1"}, {n: 1, visible: "3"}, {n: 1, err: "only 0 of 2 are free in Slurm job 7"}}},
		{"range, two servers of two", map[string]string{"SLURM_JOB_ID": "7", "SLURMD_NODENAME": "n", "SLURM_JOB_GPUS": "4-7", "CUDA_VISIBLE_DEVICES": "4,5,6,7"}, 8, []take{
			{n: 2, visible: "4,5"}, {n: 2, visible: "6,7"}, {n: 1, err: "only 0 of 4 are free in Slurm job 7"}}},
		{"more than the job has", map[string]string{"SLURM_JOB_ID": "7", "SLURMD_NODENAME": "n", "SLURM_JOB_GPUS": "1,3", "CUDA_VISIBLE_DEVICES": "0,1"}, 8, []take{
			{n: 3, err: "asked for 3 GPUs, Slurm job 7 has 2 (SLURM_JOB_GPUS=1,3, CUDA_VISIBLE_DEVICES=0,1)"}, {n: 2, visible: "0,1"}}},
		{"a job without GPUs", map[string]string{"SLURM_JOB_ID": "7", "SLURMD_NODENAME": "n"}, 8, []take{
			{n: 1, err: "asked for 1 GPUs: Slurm job 7 has no GPUs"}, {n: 0, visible: ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slurmEnv(t, tc.env)
			a := newAllocator(tc.total)
			a.job = DetectAllocation(os.Getenv)
			job := map[string]bool{}
			if a.job != nil {
				for _, id := range a.job.Visible {
					job[id] = true
				}
			}
			given := map[string]string{}
			for i, tk := range tc.takes {
				name := "s" + strconv.Itoa(i)
				devices, err := a.take(name, tk.n)
				if tk.err != "" {
					var pe *paramerr.Error
					if !errors.As(err, &pe) || pe.Param != "gpus" || !strings.Contains(err.Error(), tk.err) {
						t.Fatalf("take %d: %v, want an error naming gpus with %q", i, err, tk.err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("take %d: %v", i, err)
				}
				vis := visibleDevices(devices, os.Getenv("CUDA_VISIBLE_DEVICES"))
				if vis != tk.visible {
					t.Fatalf("take %d: CUDA_VISIBLE_DEVICES=%q, want %q", i, vis, tk.visible)
				}
				for _, id := range strings.Split(vis, ",") {
					if id == "" {
						continue
					}
					if a.job != nil && !job[id] {
						t.Fatalf("server %s got GPU %s outside the job's %v", name, id, a.job.Visible)
					}
					if other, ok := given[id]; ok {
						t.Fatalf("GPU %s given to %s and %s", id, other, name)
					}
					given[id] = name
				}
			}
		})
	}
}

// TestServersInsideJob starts real (fake vLLM) server processes inside a job whose node NVML
// says has 4 GPUs: each gets one GPU of the job's two, and a third finds none left.
func TestServersInsideJob(t *testing.T) {
	fakeVLLMOnPath(t)
	slurmEnv(t, map[string]string{"SLURM_JOB_ID": "42", "SLURMD_NODENAME": "n", "SLURM_JOB_GPUS": "1,3"})
	m := NewManager(t.TempDir(), 4, zerolog.New(zerolog.NewTestWriter(t)))
	m.Grace = 5 * time.Second
	t.Cleanup(m.StopAll)
	m.UseAllocation(DetectAllocation(os.Getenv))
	var got []string
	for i, name := range []string{"a", "b"} { // different configurations, so not one reused server
		h, err := m.Start(context.Background(), Spec{Model: "Llama-3.1-8B", GPUs: 1, Name: name, MaxModelLen: 2048 << i})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, childEnv(t, h.proc.cmd.Process.Pid, "CUDA_VISIBLE_DEVICES"))
	}
	if slices.Sort(got); strings.Join(got, " ") != "1 3" {
		t.Fatalf("the servers' CUDA_VISIBLE_DEVICES: %q, want the job's GPUs 1 and 3, one each", got)
	}
	_, err := m.Start(context.Background(), Spec{Model: "Llama-3.1-8B", GPUs: 1, Name: "c", MaxModelLen: 1024})
	if err == nil || !strings.Contains(err.Error(), "for parameter gpus: asked for 1 GPUs, only 0 of 2 are free in Slurm job 42") {
		t.Fatalf("a third server: %v", err)
	}
}

// childEnv reads a variable of a running process's environment.
func childEnv(t *testing.T, pid int, key string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil {
		t.Skipf("cannot read a process's environment here: %v", err)
	}
	val := ""
	for kv := range strings.SplitSeq(string(data), "\x00") {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			val = v // the last one wins, as for the process
		}
	}
	return val
}

// TestRunInsideJob: a run says in its log and manifest which job it is in, and a local GPU server
// in a job without GPUs fails naming gpus.
func TestRunInsideJob(t *testing.T) {
	for _, tc := range []struct {
		name, gpusVar, plan, log, manifestGPUs, err string
	}{
		{"with GPUs", "1,3", "x = 1\n", "inside Slurm job 42: GPUs 1,3 (SLURM_JOB_GPUS)", "1,3", ""},
		{"without GPUs", "", `start_vllm("m", gpus = 1)` + "\n", "inside Slurm job 42: no GPUs", "",
			"for parameter gpus: asked for 1 GPUs: Slurm job 42 has no GPUs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slurmEnv(t, map[string]string{"SLURM_JOB_ID": "42", "SLURMD_NODENAME": "n", "SLURM_JOB_GPUS": tc.gpusVar})
			dir := t.TempDir()
			plan := filepath.Join(dir, "plan.star")
			if err := os.WriteFile(plan, []byte(tc.plan), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := runtime.Execute(context.Background(), runtime.Options{PlanPath: plan, Seed: runtime.DefaultSeed,
				Out: filepath.Join(dir, "run"), LogOut: zerolog.NewTestWriter(t), LogLevel: zerolog.InfoLevel})
			if err != nil {
				t.Fatal(err)
			}
			if (out.Err == nil) != (tc.err == "") || out.Err != nil && !strings.Contains(out.Err.Error(), tc.err) {
				t.Fatalf("run error %v, want %q", out.Err, tc.err)
			}
			log, _ := os.ReadFile(filepath.Join(out.Dir, "run.log"))
			if !strings.Contains(string(log), tc.log) {
				t.Fatalf("run.log lacks %q:\n%s", tc.log, log)
			}
			var manifest struct {
				Slurm struct {
					Job  string   `json:"slurm_job"`
					GPUs []string `json:"gpus"`
				} `json:"slurm"`
			}
			data, _ := os.ReadFile(filepath.Join(out.Dir, "manifest.json"))
			if err := json.Unmarshal(data, &manifest); err != nil {
				t.Fatal(err)
			}
			if manifest.Slurm.Job != "42" || strings.Join(manifest.Slurm.GPUs, ",") != tc.manifestGPUs {
				t.Fatalf("manifest slurm: %+v\n%s", manifest.Slurm, data)
			}
		})
	}
}
