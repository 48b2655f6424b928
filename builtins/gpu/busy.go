package gpu

import (
	"fmt"
	"strings"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// CheckBusy fails when any of the NVML devices already runs compute
// processes, naming them and their memory, so a measurement does not
// silently share a GPU with someone else's job. A device that cannot be
// read is not reported busy: the server start will say what is wrong.
func CheckBusy(lib nvml.Interface, indices []int) error {
	var busy []string
	for _, i := range indices {
		h, ret := lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			continue
		}
		ps, ret := h.GetComputeRunningProcesses()
		if ret != nvml.SUCCESS || len(ps) == 0 {
			continue
		}
		var who []string
		for _, p := range convertProcesses(ps) {
			if p.UsedMemory == nil {
				who = append(who, fmt.Sprintf("pid %d (memory unknown)", p.PID))
			} else {
				who = append(who, fmt.Sprintf("pid %d holds %.1f GiB", p.PID, float64(*p.UsedMemory)/(1<<30)))
			}
		}
		busy = append(busy, fmt.Sprintf("GPU %d is busy: %s", i, strings.Join(who, ", ")))
	}
	if len(busy) == 0 {
		return nil
	}
	return fmt.Errorf("%s; pass allow_busy=True to start anyway", strings.Join(busy, "; "))
}

// NVMLIndices maps a server's device numbers (positions among the GPUs the
// parent's CUDA_VISIBLE_DEVICES allows, or plain indices when it is empty)
// to NVML indices, which ignore CUDA_VISIBLE_DEVICES. Entries given as UUIDs
// (or UUID prefixes, as CUDA accepts) are looked up in devs.
func NVMLIndices(devices []int, cudaVisible string, devs []Device) ([]int, error) {
	var visible []string
	if v := strings.TrimSpace(cudaVisible); v != "" {
		visible = strings.Split(v, ",")
	}
	out := make([]int, 0, len(devices))
	for _, d := range devices {
		if visible == nil {
			out = append(out, d)
			continue
		}
		if d < 0 || d >= len(visible) {
			return nil, fmt.Errorf("device %d is not among CUDA_VISIBLE_DEVICES=%s", d, cudaVisible)
		}
		i, err := visibleIndex(strings.TrimSpace(visible[d]), devs)
		if err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, nil
}

// visibleIndex resolves one CUDA_VISIBLE_DEVICES entry to an NVML index.
func visibleIndex(id string, devs []Device) (int, error) {
	var n int
	if _, err := fmt.Sscanf(id, "%d", &n); err == nil && fmt.Sprint(n) == id {
		return n, nil
	}
	if id != "" {
		for _, d := range devs {
			if strings.HasPrefix(d.UUID, id) {
				return d.Index, nil
			}
		}
	}
	return 0, fmt.Errorf("CUDA_VISIBLE_DEVICES entry %q matches no GPU NVML sees", id)
}
