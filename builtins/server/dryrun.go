package server

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// describeLaunch says what starting h would launch, for `starlab run --dry-run`: the command line
// and environment of a process engine with the GPUs it would take, the batch script of a Slurm
// job, or that the simulator or an external server needs no process. The run simulates the server
// meanwhile, as --virtual does.
func (m *Manager) describeLaunch(h *Handle, name string) (string, error) {
	spec := h.Spec
	var b strings.Builder
	switch {
	case spec.Twin():
		fmt.Fprintf(&b, "server %s: the simulator as the twin of calibration %s (no process)\n", name, spec.Calibration.Name)
		return b.String(), nil
	case spec.Backend == BackendExternal:
		fmt.Fprintf(&b, "server %s: attach to the running server at %s (no process)\n", name, spec.URL)
		return b.String(), nil
	case spec.Backend == BackendSim:
		fmt.Fprintf(&b, "server %s: the simulator, serving HTTP inside starlab (no process)\n", name)
		return b.String(), nil
	}
	e, ok := engines[spec.Backend].(ProcessEngine)
	if !ok {
		return "", fmt.Errorf("engine %q has no command", spec.Backend)
	}
	prefix := resolveCommand(e, m.EngineCmds)
	if spec.Launcher != nil {
		script, err := m.slurmScript(h, name, e, prefix)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "server %s (%s): submit Slurm job %s with this batch script:\n", name, spec.Backend, m.slurmJobName(name))
		for _, line := range strings.Split(strings.TrimRight(script, "\n"), "\n") {
			b.WriteString("    " + line + "\n")
		}
		return b.String(), nil
	}
	m.mu.Lock()
	first := m.dryGPUs
	m.dryGPUs += spec.GPUs
	m.mu.Unlock()
	devices := make([]string, spec.GPUs)
	for i := range devices {
		devices[i] = fmt.Sprint(first + i)
	}
	port := spec.Port
	portNote := ""
	if port == 0 {
		port, portNote = 8000, " (8000 stands for the free port picked at start)"
	}
	dir, _ := filepath.Abs(filepath.Join(m.Dir, "servers", name+"."+strings.ReplaceAll(e.Name(), ".", "")))
	cmd := e.Command(prefix, spec, m.Host, port, dir)
	env := append(append([]string(nil), cmd.Env...), envList(spec.Env)...)
	if spec.GPUs > 0 {
		env = append(env, "CUDA_VISIBLE_DEVICES="+strings.Join(devices, ","))
	}
	sort.Strings(env)
	fmt.Fprintf(&b, "server %s (%s): run on this machine%s\n", name, spec.Backend, portNote)
	if spec.GPUs > 0 {
		fmt.Fprintf(&b, "    GPUs: %s of the free ones (the first %d free devices when it starts)\n", strings.Join(devices, ","), spec.GPUs)
	}
	for _, kv := range env {
		fmt.Fprintf(&b, "    env %s\n", kv)
	}
	words := make([]string, len(cmd.Argv))
	for i, w := range cmd.Argv {
		words[i] = shellWord(w)
	}
	fmt.Fprintf(&b, "    %s\n", strings.Join(words, " "))
	if _, err := exec.LookPath(cmd.Argv[0]); err != nil {
		fmt.Fprintf(&b, "    (%s is not found on this machine: %s)\n", cmd.Argv[0], e.Executable().Install)
	}
	return b.String(), nil
}
