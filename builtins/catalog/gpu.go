package catalog

import (
	"fmt"
	"sort"
	"strings"
)

// GiB is 2^30 bytes; vLLM's logs report memory in GiB.
const GiB = 1 << 30

// GPU is one accelerator's datasheet numbers.
type GPU struct {
	Name string
	// MemoryGiB is the total device memory as CUDA reports it (torch.cuda.mem_get_info), which is
	// what vLLM multiplies by gpu_memory_utilization; it is a little below the marketing figure.
	MemoryGiB float64
	// BandwidthGBs is the peak memory bandwidth in GB/s (10^9 bytes/s).
	BandwidthGBs float64
	// BF16TFLOPs is dense (non-sparse) bf16 tensor-core throughput in TFLOP/s.
	BF16TFLOPs float64
	// TDPWatts is the board power limit; IdleWatts the draw of an idle, clocked-up device.
	TDPWatts  float64
	IdleWatts float64
	// InterconnectGBs is the per-direction GPU-to-GPU bandwidth tensor parallelism's all-reduces
	// see: NVLink on SXM parts, PCIe 4.0 x16 otherwise.
	InterconnectGBs float64
	// MaxSMClockMHz is the boost clock the sampler reports at full load.
	MaxSMClockMHz int
	// Aliases are other names the lookup accepts (lower case, punctuation-free forms are derived).
	Aliases []string
}

// MemoryBytes is MemoryGiB in bytes.
func (g GPU) MemoryBytes() float64 { return g.MemoryGiB * GiB }

// gpus lists datasheet values (NVIDIA product briefs). Memory is the CUDA-visible total, what
// vLLM's profile multiplies by gpu_memory_utilization: the driver keeps a few hundred MiB of a
// card, more with newer drivers, so the same board reports slightly different totals — 79.19 GiB
// for an H100 80GB; for the 24 GiB RTX 3090, vLLM's own profile log reads
// total_gpu_memory=23.58GiB (vllm-project/vllm#10517), and 23.53–23.69 GiB appear elsewhere.
var gpus = []GPU{
	{Name: "H100", InterconnectGBs: 450, MemoryGiB: 79.19, BandwidthGBs: 3350, BF16TFLOPs: 989, TDPWatts: 700, IdleWatts: 70, MaxSMClockMHz: 1980,
		Aliases: []string{"H100-SXM", "H100-80G", "H100 80GB HBM3", "NVIDIA H100 80GB HBM3", "H100-SXM5-80GB"}},
	{Name: "H200", InterconnectGBs: 450, MemoryGiB: 139.8, BandwidthGBs: 4800, BF16TFLOPs: 989, TDPWatts: 700, IdleWatts: 75, MaxSMClockMHz: 1980,
		Aliases: []string{"H200-SXM", "H200-141G", "NVIDIA H200"}},
	{Name: "A100-80G", InterconnectGBs: 300, MemoryGiB: 79.15, BandwidthGBs: 2039, BF16TFLOPs: 312, TDPWatts: 400, IdleWatts: 55, MaxSMClockMHz: 1410,
		Aliases: []string{"A100-80GB", "A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB", "A100"}},
	{Name: "A100-40G", InterconnectGBs: 300, MemoryGiB: 39.39, BandwidthGBs: 1555, BF16TFLOPs: 312, TDPWatts: 400, IdleWatts: 50, MaxSMClockMHz: 1410,
		Aliases: []string{"A100-40GB", "A100-SXM4-40GB", "NVIDIA A100-SXM4-40GB"}},
	{Name: "L40S", InterconnectGBs: 25, MemoryGiB: 44.42, BandwidthGBs: 864, BF16TFLOPs: 362, TDPWatts: 350, IdleWatts: 35, MaxSMClockMHz: 2520,
		Aliases: []string{"NVIDIA L40S"}},
	{Name: "A6000", InterconnectGBs: 25, MemoryGiB: 47.54, BandwidthGBs: 768, BF16TFLOPs: 154.8, TDPWatts: 300, IdleWatts: 25, MaxSMClockMHz: 1800,
		Aliases: []string{"RTX A6000", "NVIDIA RTX A6000"}},
	{Name: "RTX 4090", InterconnectGBs: 25, MemoryGiB: 23.64, BandwidthGBs: 1008, BF16TFLOPs: 165.2, TDPWatts: 450, IdleWatts: 20, MaxSMClockMHz: 2520,
		Aliases: []string{"4090", "GeForce RTX 4090", "NVIDIA GeForce RTX 4090"}},
	{Name: "RTX 3090", InterconnectGBs: 25, MemoryGiB: 23.58, BandwidthGBs: 936, BF16TFLOPs: 71, TDPWatts: 350, IdleWatts: 25, MaxSMClockMHz: 1695,
		Aliases: []string{"3090", "GeForce RTX 3090", "NVIDIA GeForce RTX 3090"}},
}

// normName folds case and drops the punctuation people vary: "RTX-4090" == "rtx 4090" == "rtx4090".
func normName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r == ' ' || r == '-' || r == '_' || r == '.' {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// LookupGPU finds a GPU by name or alias, ignoring case, spaces, dashes and underscores. The
// "NVIDIA " prefix nvidia-smi prints is optional.
func LookupGPU(name string) (GPU, error) {
	n := normName(strings.TrimPrefix(strings.TrimSpace(name), "NVIDIA "))
	for _, g := range gpus {
		if normName(g.Name) == n {
			return g, nil
		}
		for _, a := range g.Aliases {
			if normName(a) == n || normName(strings.TrimPrefix(a, "NVIDIA ")) == n {
				return g, nil
			}
		}
	}
	return GPU{}, fmt.Errorf("catalog: unknown GPU %q (known: %s)", name, strings.Join(GPUNames(), ", "))
}

// GPUNames lists the catalog's GPU names, sorted.
func GPUNames() []string {
	out := make([]string, len(gpus))
	for i, g := range gpus {
		out[i] = g.Name
	}
	sort.Strings(out)
	return out
}

// GPUs returns a copy of the GPU table.
func GPUs() []GPU { return append([]GPU(nil), gpus...) }
