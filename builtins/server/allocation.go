package server

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"starlab/runtime"
	"starlab/runtime/paramerr"
)

// Inside a Slurm allocation (`starlab run` in an sbatch script, or in salloc's shell on the
// job's node) the GPUs of the node are not ours: only the job's are. A run hook finds the job,
// records it, and bounds the local servers' GPU pool by it.
//
// Slurm documents two numberings (sbatch(1) and the GRES guide, slurm.schedmd.com/gres.html):
// SLURM_JOB_GPUS (and a step's SLURM_STEP_GPUS) are global GPU IDs, "not relative to any device
// cgroup, even if devices are constrained with task/cgroup", while the CUDA_VISIBLE_DEVICES that
// Slurm sets for the job is relative to the devices the job can see: with a device cgroup, a job
// allocated /dev/nvidia1 gets CUDA_VISIBLE_DEVICES=0; without one it gets 1. A server's CUDA runs
// in the job's view, so the rule is: the pool is the CUDA_VISIBLE_DEVICES Slurm set (each server's
// CUDA_VISIBLE_DEVICES is a part of it, as outside a job), and the global IDs name the job's GPUs
// in the log and manifest. Only when CUDA_VISIBLE_DEVICES is unset (the user removed it) is the
// pool the global IDs, which is what the driver numbers when no device cgroup renumbers them.

// Allocation is the Slurm job this process runs in, as its environment describes it.
type Allocation struct {
	JobID string
	// GPUs are the job's GPUs as Slurm names them (global IDs when they come from
	// SLURM_JOB_GPUS or SLURM_STEP_GPUS); empty when the job has none.
	GPUs []string
	// Source is the variable GPUs came from ("" when the job has none).
	Source string
	// Visible is the pool local servers draw from: the IDs a server's CUDA_VISIBLE_DEVICES may
	// name, in the numbering of this process's CUDA.
	Visible []string
	// Node is SLURMD_NODENAME: the job's node starlab runs on. slurmd sets it for batch scripts
	// and job steps; salloc's shell on the submitting host lacks it.
	Node string
	// err says why local servers get no GPUs here although the job may have some.
	err error
	// fromCUDA: Visible is the CUDA_VISIBLE_DEVICES Slurm set, not the job's global IDs.
	fromCUDA bool
}

// allocationGPUVars are where a job's GPUs are read from, in order.
var allocationGPUVars = []string{"SLURM_JOB_GPUS", "SLURM_STEP_GPUS", "CUDA_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL"}

// DetectAllocation reads the Slurm job from the environment (getenv, os.Getenv in a run);
// nil outside a job.
func DetectAllocation(getenv func(string) string) *Allocation {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	id := get("SLURM_JOB_ID")
	if id == "" {
		return nil
	}
	a := &Allocation{JobID: id, Node: get("SLURMD_NODENAME")}
	for _, k := range allocationGPUVars {
		if ids := parseGPUList(get(k)); len(ids) > 0 {
			a.GPUs, a.Source = ids, k
			break
		}
	}
	visible := parseGPUList(get("CUDA_VISIBLE_DEVICES"))
	step := parseGPUList(get("SLURM_STEP_GPUS"))
	switch {
	case a.Node == "":
		a.err = fmt.Errorf("starlab runs inside Slurm job %s but not on a node of it (SLURMD_NODENAME is unset: "+
			"salloc's shell runs on the submitting host), so this machine's GPUs are not the job's; "+
			"run starlab on the job's node (srun --pty starlab run ...) or start servers with launcher=slurm(...)", id)
	case len(a.GPUs) == 0:
		a.err = fmt.Errorf("Slurm job %s has no GPUs (none of %s is set); request them with --gres=gpu:N "+
			"or --gpus=N, or start servers with launcher=slurm(...)", id, strings.Join(allocationGPUVars, ", "))
	case len(visible) == 0:
		a.Visible = a.GPUs
	case len(visible) == len(a.GPUs) || len(visible) == len(step) || subset(visible, a.GPUs):
		// Slurm's own value (global IDs, or renumbered by a device cgroup), a step's, or a
		// narrowing to GPUs of the job.
		a.Visible, a.fromCUDA = visible, true
	default:
		a.err = fmt.Errorf("CUDA_VISIBLE_DEVICES=%s names %d GPUs, but Slurm job %s has %d (%s=%s) and they are not among them; "+
			"leave CUDA_VISIBLE_DEVICES as Slurm set it", strings.Join(visible, ","), len(visible), id, len(a.GPUs),
			a.Source, strings.Join(a.GPUs, ","))
	}
	return a
}

// parseGPUList reads a list of GPU IDs: "1,3", Slurm's ranges "0-3" or "0,2-3", or UUIDs (which
// contain dashes and stay whole). "NoDevFiles", old Slurm's value for a GRES without device files,
// names no GPU.
func parseGPUList(s string) []string {
	var ids []string
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" || f == "NoDevFiles" {
			continue
		}
		if lo, hi, ok := strings.Cut(f, "-"); ok {
			a, errA := strconv.Atoi(lo)
			b, errB := strconv.Atoi(hi)
			if errA == nil && errB == nil && 0 <= a && a <= b && b-a < 4096 {
				for i := a; i <= b; i++ {
					ids = append(ids, strconv.Itoa(i))
				}
				continue
			}
		}
		ids = append(ids, f)
	}
	return ids
}

func subset(xs, of []string) bool {
	for _, x := range xs {
		if !slices.Contains(of, x) {
			return false
		}
	}
	return true
}

// String is the allocation as the log says it.
func (a *Allocation) String() string {
	if len(a.GPUs) == 0 {
		return fmt.Sprintf("Slurm job %s: no GPUs", a.JobID)
	}
	return fmt.Sprintf("Slurm job %s: GPUs %s (%s)", a.JobID, strings.Join(a.GPUs, ","), a.Source)
}

// check fails a request for n GPUs the allocation cannot serve at all.
func (a *Allocation) check(n int) error {
	if a.err != nil {
		return paramerr.New("gpus", "asked for %d GPUs: %v", n, a.err)
	}
	if n > len(a.Visible) {
		return paramerr.New("gpus", "asked for %d GPUs, Slurm job %s has %d (%s)", n, a.JobID, len(a.Visible), a.pool())
	}
	return nil
}

// pool says where the allocation's GPUs come from, for errors.
func (a *Allocation) pool() string {
	s := a.Source + "=" + strings.Join(a.GPUs, ",")
	if a.fromCUDA && a.Source != "CUDA_VISIBLE_DEVICES" {
		s += ", CUDA_VISIBLE_DEVICES=" + strings.Join(a.Visible, ",")
	}
	return s
}

// ManifestEntry is the manifest's "slurm" field.
func (a *Allocation) ManifestEntry() map[string]any {
	e := map[string]any{"slurm_job": a.JobID, "gpus": append([]string{}, a.GPUs...)}
	if a.Source != "" {
		e["gpus_from"] = a.Source
	}
	if a.Node != "" {
		e["node"] = a.Node
	}
	if len(a.Visible) > 0 {
		e["cuda_visible_devices"] = strings.Join(a.Visible, ",")
	}
	if a.err != nil {
		e["local_gpus"] = a.err.Error()
	}
	return e
}

// UseAllocation bounds the local GPU servers' pool by the allocation: their GPUs are only its
// GPUs, and each server's CUDA_VISIBLE_DEVICES names some of a.Visible.
func (m *Manager) UseAllocation(a *Allocation) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.vllmAlloc.job = a
}

func init() { runtime.RegisterRunHook(setupAllocation) }

// setupAllocation finds the Slurm job the run is inside, says so in the log and the manifest, and
// gives the run's local servers only the job's GPUs. A replay starts no server.
func setupAllocation(r *runtime.Run) {
	a := DetectAllocation(os.Getenv)
	if a == nil || r.Mode == runtime.Replay {
		return
	}
	ev := r.Log.Info().Str("slurm_job", a.JobID).Strs("gpus", a.GPUs).Strs("cuda_visible_devices", a.Visible)
	if a.err != nil {
		ev = ev.Str("local_gpus", a.err.Error())
	}
	ev.Msg("inside " + a.String())
	if err := r.SetManifest("slurm", a.ManifestEntry()); err != nil {
		r.Log.Warn().Err(err).Msg("server: writing the manifest")
	}
	ManagerFor(r).UseAllocation(a)
}
