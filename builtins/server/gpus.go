package server

import (
	"fmt"
	"sort"
	"starlab/runtime/paramerr"
	"strings"
)

// allocator hands out GPU indices so that no two running servers of a plan share a GPU.
type allocator struct {
	total int            // GPUs on the machine; -1 when unknown (no NVML, no CUDA_VISIBLE_DEVICES)
	held  map[int]string // index -> server name
}

func newAllocator(total int) *allocator { return &allocator{total: total, held: map[int]string{}} }

// take reserves n GPUs for name, lowest indices first.
func (a *allocator) take(name string, n int) ([]int, error) {
	if a.total >= 0 && n > a.total {
		return nil, paramerr.New("gpus", "asked for %d GPUs, this machine has %d", n, a.total)
	}
	var got []int
	for i := 0; len(got) < n && (a.total < 0 || i < a.total); i++ {
		if _, busy := a.held[i]; !busy {
			got = append(got, i)
		}
	}
	if len(got) < n {
		return nil, paramerr.New("gpus", "asked for %d GPUs, only %d of %d are free (%s)", n, len(got), a.total, a.holders())
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

// visibleDevices maps allocated indices through the parent's CUDA_VISIBLE_DEVICES, so a plan
// started with CUDA_VISIBLE_DEVICES=4,5,6,7 hands its servers those physical GPUs.
func visibleDevices(devices []int, parent string) string {
	var parentIDs []string
	if parent != "" {
		parentIDs = strings.Split(parent, ",")
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
