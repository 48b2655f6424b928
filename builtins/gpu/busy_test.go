package gpu

import (
	"reflect"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

func TestCheckBusy(t *testing.T) {
	idle := fullDevice(1)
	idle.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) { return nil, nvml.SUCCESS }
	hidden := fullDevice(2)
	hidden.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) {
		return []nvml.ProcessInfo{{Pid: 77, UsedGpuMemory: notAvailable}}, nvml.SUCCESS
	}
	lib := libOf(fullDevice(0), idle, hidden)

	if err := CheckBusy(lib, []int{1}); err != nil {
		t.Fatalf("idle GPU reported busy: %v", err)
	}
	err := CheckBusy(lib, []int{0, 1, 2})
	want := "GPU 0 is busy: pid 4242 holds 9.0 GiB; GPU 2 is busy: pid 77 (memory unknown); pass allow_busy=True to start anyway"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestNVMLIndices(t *testing.T) {
	devs := []Device{{Index: 0, UUID: "GPU-aaaa-1111"}, {Index: 1, UUID: "GPU-bbbb-2222"}, {Index: 2, UUID: "GPU-cccc"}}
	for _, c := range []struct {
		visible string
		in      []int
		want    []int
		err     string
	}{
		{"", []int{0, 1}, []int{0, 1}, ""},
		{"2,0", []int{0, 1}, []int{2, 0}, ""},
		{"GPU-bbbb, GPU-cccc", []int{1, 0}, []int{2, 1}, ""},
		{"1", []int{1}, nil, "not among CUDA_VISIBLE_DEVICES"},
		{"GPU-zzzz", []int{0}, nil, "matches no GPU"},
	} {
		got, err := NVMLIndices(c.in, c.visible, devs)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q %v: err %v, want %q", c.visible, c.in, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q %v: got %v, %v; want %v", c.visible, c.in, got, err, c.want)
		}
	}
	if visibleCount("") != -1 || visibleCount("3,4") != 2 {
		t.Error("visibleCount")
	}
}
