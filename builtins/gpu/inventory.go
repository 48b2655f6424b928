package gpu

import (
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// Inventory is the manifest's record of the GPUs a run saw, so a result can
// be traced to the hardware and driver that produced it.
type Inventory struct {
	Simulated         bool     `json:"simulated"`
	DriverVersion     string   `json:"driver_version"`
	CUDADriverVersion string   `json:"cuda_driver_version"` // "12.4"; empty if unknown
	NVMLVersion       string   `json:"nvml_version"`
	Devices           []Device `json:"devices"`
	// Errors lists readings that failed; the inventory is still usable.
	Errors []string `json:"errors,omitempty"`
}

// ReadInventory lists every device and the driver versions on an initialised
// library. Only a failed device count is an error: a version or device that
// cannot be read is noted in Errors and the rest is still recorded.
func ReadInventory(lib nvml.Interface) (Inventory, error) {
	var inv Inventory
	note := func(what string, ret nvml.Return) {
		if ret != nvml.ERROR_NOT_SUPPORTED {
			inv.Errors = append(inv.Errors, fmt.Sprintf("%s: %s", what, retString(ret)))
		}
	}
	if v, ret := lib.SystemGetDriverVersion(); ret == nvml.SUCCESS {
		inv.DriverVersion = v
	} else {
		note("driver version", ret)
	}
	if v, ret := lib.SystemGetCudaDriverVersion(); ret == nvml.SUCCESS {
		inv.CUDADriverVersion = cudaVersion(v)
	} else {
		note("CUDA driver version", ret)
	}
	if v, ret := lib.SystemGetNVMLVersion(); ret == nvml.SUCCESS {
		inv.NVMLVersion = v
	} else {
		note("NVML version", ret)
	}
	count, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return inv, fmt.Errorf("gpu: counting devices: %s", retString(ret))
	}
	inv.Devices = []Device{}
	for i := 0; i < count; i++ {
		d := openDevice(lib, i)
		if d.pending != "" {
			inv.Errors = append(inv.Errors, fmt.Sprintf("device %d: %s", i, d.pending))
		}
		inv.Devices = append(inv.Devices, d.info)
	}
	return inv, nil
}

// cudaVersion turns NVML's 1000*major + 10*minor encoding into "major.minor".
func cudaVersion(v int) string {
	return fmt.Sprintf("%d.%d", v/1000, (v%1000)/10)
}
