package gpu

import (
	"reflect"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

func TestReadInventory(t *testing.T) {
	lib := libOf(fullDevice(0), fullDevice(1))
	lib.SystemGetDriverVersionFunc = func() (string, nvml.Return) { return "550.54.15", nvml.SUCCESS }
	lib.SystemGetCudaDriverVersionFunc = func() (int, nvml.Return) { return 12040, nvml.SUCCESS }
	lib.SystemGetNVMLVersionFunc = func() (string, nvml.Return) { return "12.550.54.15", nvml.SUCCESS }
	got, err := ReadInventory(lib)
	if err != nil {
		t.Fatal(err)
	}
	want := Inventory{
		DriverVersion: "550.54.15", CUDADriverVersion: "12.4", NVMLVersion: "12.550.54.15",
		Devices: []Device{
			{Index: 0, Name: "NVIDIA H100 80GB HBM3", UUID: "GPU-a", MemoryTotal: 80 << 30},
			{Index: 1, Name: "NVIDIA H100 80GB HBM3", UUID: "GPU-b", MemoryTotal: 80 << 30},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("inventory:\n got %+v\nwant %+v", got, want)
	}
}

func TestReadInventoryPartial(t *testing.T) {
	lib := libOf(fullDevice(0), fullDevice(1))
	lib.DeviceGetHandleByIndexFunc = func(i int) (nvml.Device, nvml.Return) {
		if i == 1 {
			return nil, nvml.ERROR_GPU_IS_LOST
		}
		return fullDevice(0), nvml.SUCCESS
	}
	lib.SystemGetDriverVersionFunc = func() (string, nvml.Return) { return "", nvml.ERROR_UNKNOWN }
	lib.SystemGetCudaDriverVersionFunc = func() (int, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }
	lib.SystemGetNVMLVersionFunc = func() (string, nvml.Return) { return "12.1", nvml.SUCCESS }
	got, err := ReadInventory(lib)
	if err != nil {
		t.Fatal(err)
	}
	wantErrs := []string{"driver version: ERROR_UNKNOWN", "device 1: device lost (handle: ERROR_GPU_IS_LOST)"}
	if !reflect.DeepEqual(got.Errors, wantErrs) || got.CUDADriverVersion != "" || len(got.Devices) != 2 || got.Devices[1].Index != 1 {
		t.Errorf("inventory = %+v", got)
	}

	lib.DeviceGetCountFunc = func() (int, nvml.Return) { return 0, nvml.ERROR_UNKNOWN }
	if _, err := ReadInventory(lib); err == nil {
		t.Error("failed device count accepted")
	}
}

func TestCUDAVersion(t *testing.T) {
	for v, want := range map[int]string{12040: "12.4", 11080: "11.8", 13000: "13.0", 12090: "12.9"} {
		if got := cudaVersion(v); got != want {
			t.Errorf("cudaVersion(%d) = %q, want %q", v, got, want)
		}
	}
}
