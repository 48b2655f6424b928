package server

import (
	"fmt"
	"os"
	"sort"
	"starlab/runtime/paramerr"
	"strings"
)

// allocator hands out GPU indices so that no two running servers of a plan share a GPU. An
// index is a position in the parent's CUDA_VISIBLE_DEVICES (visibleDevices), or in a Slurm job's
// pool when job is set.
type allocator struct {
	total int            // GPUs on the machine; -1 when unknown (no NVML, no CUDA_VISIBLE_DEVICES)
	held  map[int]string // index -> server name
	job   *Allocation    // the Slurm job whose GPUs are the only ones to hand out; nil outside one
}

func newAllocator(total int) *allocator { return &allocator{total: total, held: map[int]string{}} }

// take reserves n GPUs for name, lowest indices first.
func (a *allocator) take(name string, n int) ([]int, error) {
	total, where := a.total, "this machine"
	if a.job != nil && n > 0 {
		if err := a.job.check(n); err != nil {
			return nil, err
		}
		// NVML may count more GPUs than the job has (no device cgroup): the job bounds them.
		if total < 0 || total > len(a.job.Visible) {
			total = len(a.job.Visible)
		}
		where = "Slurm job " + a.job.JobID
	}
	if total >= 0 && n > total {
		return nil, paramerr.New("gpus", "asked for %d GPUs, %s has %d", n, where, total)
	}
	var got []int
	for i := 0; len(got) < n && (total < 0 || i < total); i++ {
		if _, busy := a.held[i]; !busy {
			got = append(got, i)
		}
	}
	if len(got) < n {
		return nil, paramerr.New("gpus", "asked for %d GPUs, only %d of %d are free%s (%s)", n, len(got), total, within(where), a.holders())
	}
	for _, i := range got {
		a.held[i] = name
	}
	return got, nil
}

func (a *allocator) release(devices []int) {
	for _, i := range devices {
		delete(a.held, i)
	}
}

func (a *allocator) holders() string {
	by := map[string][]string{}
	for i, n := range a.held {
		by[n] = append(by[n], fmt.Sprint(i))
	}
	var parts []string
	for n, ids := range by {
		sort.Strings(ids)
		parts = append(parts, fmt.Sprintf("server %s holds GPU %s", n, strings.Join(ids, ",")))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// within is " in WHERE" for a Slurm job and nothing for this machine, as messages said before jobs.
func within(where string) string {
	if where == "this machine" {
		return ""
	}
	return " in " + where
}

// visibleDevices maps allocated indices through the parent's CUDA_VISIBLE_DEVICES, so a plan
// started with CUDA_VISIBLE_DEVICES=4,5,6,7 hands its servers those physical GPUs. Inside a Slurm
// job that is the CUDA_VISIBLE_DEVICES Slurm set; should it be unset, the indices map through the
// job's own GPUs (allocation.go), never onto GPUs outside the job.
func visibleDevices(devices []int, parent string) string {
	var parentIDs []string
	if parent != "" {
		parentIDs = strings.Split(parent, ",")
	} else if job := DetectAllocation(os.Getenv); job != nil {
		parentIDs = job.Visible
	}
	ids := make([]string, len(devices))
	for i, d := range devices {
		if d < len(parentIDs) {
			ids[i] = strings.TrimSpace(parentIDs[d])
		} else {
			ids[i] = fmt.Sprint(d)
		}
	}
	return strings.Join(ids, ",")
}
