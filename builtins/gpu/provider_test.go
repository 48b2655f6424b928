package gpu

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
)

// TestOpenRealLibrary runs the real nvml.Init(). On a host without a driver
// (the development machines) the test binary surviving this call is the
// point: Open must report the reason and call nothing else. On a GPU host it
// checks the library answers.
func TestOpenRealLibrary(t *testing.T) {
	p, ok, reason := Open()
	if !ok {
		if p != nil {
			t.Errorf("unavailable Open returned a provider")
		}
		if !strings.HasPrefix(reason, "NVML unavailable") && !strings.HasPrefix(reason, "NVML loaded") {
			t.Errorf("reason = %q, want a clear NVML message", reason)
		}
		t.Logf("no NVML here, process survived: %s", reason)
		return
	}
	defer p.Close()
	inv, err := p.Inventory()
	if err != nil || len(inv.Devices) == 0 || inv.DriverVersion == "" || inv.Simulated {
		t.Fatalf("inventory = %+v, %v", inv, err)
	}
	t.Logf("NVML present: %+v", inv)
	res, err := Collect(context.Background(), p.Lib, Config{Interval: 50 * time.Millisecond}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, smp := range res.Samples {
		if smp.Err != "" || smp.MemoryTotal == nil || smp.UtilGPU == nil {
			t.Errorf("real sample %+v", smp)
		}
	}
	for _, sum := range res.Summaries {
		if sum.Samples < 10 || sum.ErrorCount != 0 {
			t.Errorf("real summary %+v", sum)
		}
		js, _ := json.Marshal(sum)
		t.Logf("summary: %s", js)
	}
	if j, ok := integratedEnergy(res.Samples); ok {
		t.Logf("integrated power over the same span: %.2f J (counter and power average differently)", j)
	}
	js, _ := json.Marshal(res.Samples[0])
	t.Logf("first sample: %s", js)
}

// TestOpenFailedInitCallsNothingElse uses mocks with only InitFunc set: any
// further call would panic on a nil func, standing in for the real
// library's crash.
func TestOpenFailedInitCallsNothingElse(t *testing.T) {
	tests := []struct {
		ret  nvml.Return
		want string
	}{
		{nvml.ERROR_LIBRARY_NOT_FOUND, "libnvidia-ml.so.1 not found"},
		{nvml.ERROR_DRIVER_NOT_LOADED, "kernel driver is not loaded"},
		{nvml.ERROR_NO_PERMISSION, "no permission"},
		{nvml.ERROR_LIB_RM_VERSION_MISMATCH, "versions differ"},
		{nvml.ERROR_UNKNOWN, "nvmlInit returned code 999"},
	}
	for _, tc := range tests {
		lib := &mock.Interface{InitFunc: func() nvml.Return { return tc.ret }}
		p, ok, reason := openLib(lib)
		if p != nil || ok || !strings.Contains(reason, tc.want) {
			t.Errorf("openLib(%d) = %v, %v, %q; want reason containing %q", tc.ret, p, ok, reason, tc.want)
		}
	}
}

func TestOpenNoDevicesShutsDown(t *testing.T) {
	lib := libOf()
	lib.InitFunc = func() nvml.Return { return nvml.SUCCESS }
	lib.ShutdownFunc = func() nvml.Return { return nvml.SUCCESS }
	p, ok, reason := openLib(lib)
	if p != nil || ok || !strings.Contains(reason, "no NVIDIA GPU") {
		t.Errorf("openLib = %v, %v, %q", p, ok, reason)
	}
	if n := len(lib.ShutdownCalls()); n != 1 {
		t.Errorf("Shutdown called %d times, want 1", n)
	}
}

func TestOpenWithDevices(t *testing.T) {
	lib := libOf(fullDevice(0))
	lib.InitFunc = func() nvml.Return { return nvml.SUCCESS }
	lib.ShutdownFunc = func() nvml.Return { return nvml.ERROR_UNKNOWN }
	p, ok, reason := openLib(lib)
	if p == nil || !ok || reason != "" {
		t.Fatalf("openLib = %v, %v, %q", p, ok, reason)
	}
	err1, err2 := p.Close(), p.Close()
	if err1 == nil || err1 != err2 || len(lib.ShutdownCalls()) != 1 {
		t.Errorf("Close = %v, %v after %d shutdowns; want one shutdown, same error", err1, err2, len(lib.ShutdownCalls()))
	}
}

func TestOpenerLogsOnce(t *testing.T) {
	var logs []string
	o := &Opener{Logf: func(format string, args ...any) { logs = append(logs, fmt.Sprintf(format, args...)) }}
	p1, ok1, r1 := o.Open()
	p2, ok2, r2 := o.Open()
	if p1 != p2 || ok1 != ok2 || r1 != r2 {
		t.Errorf("second Open differs: %v %v %q vs %v %v %q", p1, ok1, r1, p2, ok2, r2)
	}
	if !ok1 && (len(logs) != 1 || !strings.Contains(logs[0], r1)) {
		t.Errorf("logs = %q, want the reason once", logs)
	}
	if ok1 && len(logs) != 0 {
		t.Errorf("logged %q with NVML present", logs)
	}
	if err := o.Close(); err != nil {
		t.Error(err)
	}
}
