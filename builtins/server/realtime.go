package server

import "time"

// realStartTime is how long the server a --virtual run simulates would take to become ready on
// real hardware, for the run's estimate of its real duration: the engine's own start-up plus the
// weights read at 2 GB/s (a local NVMe's pace; a network file system is slower). vLLM and SGLang
// import their stack, profile memory and capture CUDA graphs (about a minute for an 8B model);
// llama.cpp and ollama map the file and go; the simulator and an external server start at once.
func realStartTime(backend string, weightBytes float64) time.Duration {
	load := time.Duration(weightBytes / 2e9 * float64(time.Second))
	switch backend {
	case EngineVLLM, EngineSGLang:
		return time.Minute + load
	case EngineLlamaCpp, EngineOllama:
		return 3*time.Second + load
	}
	return 0
}

// RealStartTime is the start-up time realStartTime gave this server when the simulator stood
// in for it (0 for a server that really started).
func (h *Handle) RealStartTime() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.realStart
}
