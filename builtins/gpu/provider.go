package gpu

import (
	"fmt"
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// Provider is an initialised NVML library, real or simulated. Close it when
// the run ends.
type Provider struct {
	Lib       nvml.Interface
	Simulated bool

	closeOnce sync.Once
	closeErr  error
}

// Open initialises the real NVML library. On a host without a driver it
// returns available=false and a reason, having called nothing but Init:
// after a failed Init any other NVML call dereferences unloaded symbols and
// kills the process, so the check is on the Return code, never on a nil
// error.
func Open() (p *Provider, available bool, reason string) {
	return openLib(nvml.New())
}

// openLib is Open on a given library, so tests can drive the failure paths.
func openLib(lib nvml.Interface) (*Provider, bool, string) {
	if ret := lib.Init(); ret != nvml.SUCCESS {
		return nil, false, initFailure(ret)
	}
	p := &Provider{Lib: lib}
	count, ret := lib.DeviceGetCount()
	switch {
	case ret != nvml.SUCCESS:
		_ = p.Close()
		return nil, false, fmt.Sprintf("NVML unavailable: counting devices failed: %s", retString(ret))
	case count == 0:
		_ = p.Close()
		return nil, false, "NVML loaded but no NVIDIA GPU is visible"
	}
	return p, true, ""
}

// initFailure explains a failed nvmlInit without asking NVML for the error
// string: the library may not be loaded, so only pure Go is safe here.
func initFailure(ret nvml.Return) string {
	why := map[nvml.Return]string{
		nvml.ERROR_LIBRARY_NOT_FOUND:       "libnvidia-ml.so.1 not found (no NVIDIA driver on this host)",
		nvml.ERROR_DRIVER_NOT_LOADED:       "the NVIDIA kernel driver is not loaded",
		nvml.ERROR_NO_PERMISSION:           "no permission to talk to the NVIDIA driver",
		nvml.ERROR_LIB_RM_VERSION_MISMATCH: "NVML library and kernel driver versions differ (reboot or reload the driver)",
		nvml.ERROR_FUNCTION_NOT_FOUND:      "the NVIDIA driver is too old for this NVML binding",
	}[ret]
	if why == "" {
		why = fmt.Sprintf("nvmlInit returned code %d", int32(ret))
	}
	return "NVML unavailable: " + why
}

// OpenSim wraps a simulated library (see NewSimInterface) as a Provider, so
// sim-backed runs take the same path as real ones.
func OpenSim(state func() []SimGPUState) *Provider {
	lib := NewSimInterface(state)
	lib.Init()
	return &Provider{Lib: lib, Simulated: true}
}

// Close shuts the library down once; later calls return the first result.
func (p *Provider) Close() error {
	p.closeOnce.Do(func() {
		if ret := p.Lib.Shutdown(); ret != nvml.SUCCESS {
			p.closeErr = fmt.Errorf("gpu: NVML shutdown: %s", retString(ret))
		}
	})
	return p.closeErr
}

// NewSampler is NewSampler on this provider's library.
func (p *Provider) NewSampler(cfg Config) (*Sampler, error) { return NewSampler(p.Lib, cfg) }

// Inventory is ReadInventory on this provider's library, marked simulated
// where it is.
func (p *Provider) Inventory() (Inventory, error) {
	inv, err := ReadInventory(p.Lib)
	inv.Simulated = p.Simulated
	return inv, err
}

// Opener opens the real library at most once and logs the reason it is
// missing at most once, however many sweeps ask. A run keeps one.
type Opener struct {
	Logf func(format string, args ...any) // nil: no log

	once      sync.Once
	p         *Provider
	available bool
	reason    string
}

// Open returns the shared Provider, or available=false and the reason.
func (o *Opener) Open() (*Provider, bool, string) {
	o.once.Do(func() {
		o.p, o.available, o.reason = Open()
		if !o.available && o.Logf != nil {
			o.Logf("gpu: %s; GPU telemetry disabled for this run", o.reason)
		}
	})
	return o.p, o.available, o.reason
}

// Close shuts the shared Provider if one was opened.
func (o *Opener) Close() error {
	if o.p == nil {
		return nil
	}
	return o.p.Close()
}
