package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"starlab/runtime/paramerr"
)

// Slurm is the slurm(...) launcher: a server runs as a Slurm batch job submitted with sbatch from
// this machine, under these settings. Zero fields are left to the cluster's defaults. It is part
// of a server's Spec, and so of its identity: the same model under other settings is another
// server.
type Slurm struct {
	Partition string `json:"partition,omitempty"`
	Account   string `json:"account,omitempty"`
	QOS       string `json:"qos,omitempty"`
	Time      string `json:"time,omitempty"`
	Nodes     int    `json:"nodes,omitempty"`
	// GPUsPerNode is what one node of the partition has: a server with more GPUs spans nodes.
	GPUsPerNode int    `json:"gpus_per_node,omitempty"`
	CPUsPerTask int    `json:"cpus_per_task,omitempty"`
	Mem         string `json:"mem,omitempty"`
	Constraint  string `json:"constraint,omitempty"`
	// Setup are shell commands the job runs before the engine (module load, source a venv).
	Setup []string `json:"setup,omitempty"`
	// SbatchArgs are further sbatch options, each element an option or the value of the one before.
	SbatchArgs []string `json:"sbatch_args,omitempty"`
	// Env is exported in the job before the setup commands (the cluster's environment); a
	// server's own env= comes after and wins.
	Env map[string]string `json:"env,omitempty"`
}

var (
	reSlurmTime = regexp.MustCompile(`^(\d+-)?\d+(:\d+){0,2}$|^\d+-\d+$|^(UNLIMITED|INFINITE|unlimited|infinite)$`)
	reSlurmMem  = regexp.MustCompile(`^\d+[KMGTkmgt]?$`)
	reEnvName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Check validates the settings, naming the slurm() parameter at fault.
func (s *Slurm) Check() error {
	for _, f := range []struct{ name, v string }{{"partition", s.Partition}, {"account", s.Account}, {"qos", s.QOS},
		{"time", s.Time}, {"mem", s.Mem}, {"constraint", s.Constraint}} {
		if strings.ContainsAny(f.v, " \t\r\n\"'") {
			return paramerr.New(f.name, "%q: want a Slurm value without spaces or quotes", f.v)
		}
	}
	if s.Time != "" && !reSlurmTime.MatchString(s.Time) {
		return paramerr.New("time", "%q: want a Slurm time limit (minutes, \"MM:SS\", \"HH:MM:SS\", \"D-HH:MM:SS\")", s.Time)
	}
	if s.Mem != "" && !reSlurmMem.MatchString(s.Mem) {
		return paramerr.New("mem", "%q: want a Slurm memory size (\"64G\", \"500M\", \"0\" for all of a node's)", s.Mem)
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"nodes", s.Nodes}, {"gpus_per_node", s.GPUsPerNode}, {"cpus_per_task", s.CPUsPerTask}} {
		if n.v < 0 {
			return paramerr.New(n.name, "want a positive number, got %d", n.v)
		}
	}
	for _, c := range s.Setup {
		if strings.ContainsAny(c, "\r\n") {
			return paramerr.New("setup", "%q: one command per element, without newlines", c)
		}
	}
	for i, a := range s.SbatchArgs {
		if strings.ContainsAny(a, "\r\n") {
			return paramerr.New("sbatch_args", "%q contains a newline", a)
		}
		if i == 0 && !strings.HasPrefix(a, "-") {
			return paramerr.New("sbatch_args", "%q: want sbatch options (\"--exclusive\", \"--reservation=NAME\")", a)
		}
	}
	for k := range s.Env {
		if !reEnvName.MatchString(k) {
			return paramerr.New("env", "%q is not an environment variable name", k)
		}
	}
	return nil
}

// layout is how a server's GPUs spread over nodes: nodes × perNode = gpus (one node for a CPU
// engine). A server on more than one node is vLLM's multi-node mode (slurm_script.go).
func (s *Slurm) layout(spec Spec) (nodes, perNode int, err error) {
	gpus := spec.GPUs
	nodes = s.Nodes
	if nodes == 0 {
		nodes = 1
		if s.GPUsPerNode > 0 && gpus > s.GPUsPerNode {
			nodes = (gpus + s.GPUsPerNode - 1) / s.GPUsPerNode
		}
	}
	if gpus == 0 {
		if nodes > 1 {
			return 0, 0, paramerr.New("launcher", "slurm(nodes=%d) for a server without GPUs: a CPU engine runs on one node", nodes)
		}
		return 1, 0, nil
	}
	if gpus%nodes != 0 {
		return 0, 0, paramerr.New("gpus", "gpus=%d do not split evenly over %d nodes (slurm(gpus_per_node=%d, nodes=%d))", gpus, nodes, s.GPUsPerNode, s.Nodes)
	}
	perNode = gpus / nodes
	if s.GPUsPerNode > 0 && perNode > s.GPUsPerNode {
		return 0, 0, paramerr.New("gpus", "gpus=%d on %d nodes is %d per node, more than gpus_per_node=%d", gpus, nodes, perNode, s.GPUsPerNode)
	}
	if nodes > 1 {
		if spec.Backend != EngineVLLM {
			return 0, 0, paramerr.New("gpus", "gpus=%d span %d nodes: multi-node servers are vLLM's (Ray); %s runs on one node", gpus, nodes, spec.Backend)
		}
		if spec.DataParallel > 1 {
			return 0, 0, paramerr.New("data_parallel", "a multi-node server runs one vLLM over Ray: use tensor_parallel (gpus=%d on %d nodes), or one server per node", gpus, nodes)
		}
	}
	return nodes, perNode, nil
}

// checkLauncher is the part of Spec.Normalize that concerns launcher=.
func (s *Spec) checkLauncher() error {
	if s.Launcher == nil {
		return nil
	}
	if _, ok := engines[s.Backend].(ProcessEngine); !ok {
		return paramerr.New("launcher", "the %s engine does not run as a process starlab starts: launcher= is for vllm, sglang, llama.cpp and ollama", s.Backend)
	}
	if err := s.Launcher.Check(); err != nil {
		return paramerr.New("launcher", "%v", err)
	}
	_, _, err := s.Launcher.layout(*s)
	return err
}

// jobState is one line of `scontrol show job -o ID`. State is "" once Slurm has forgotten the
// job (MinJobAge after it ended).
type jobState struct {
	State, Reason, NodeList string
}

// active reports whether the job holds (or waits for) resources.
func (j jobState) active() bool {
	switch j.State {
	case "PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING", "STOPPED", "SIGNALING", "STAGE_OUT", "RESV_DEL_HOLD", "REQUEUE_HOLD", "REQUEUE_FED", "SPECIAL_EXIT":
		return true
	}
	return false
}

// waiting reports whether the job has not started yet.
func (j jobState) waiting() bool {
	return j.State == "PENDING" || j.State == "CONFIGURING" || j.State == "REQUEUED" || j.State == "REQUEUE_HOLD"
}

var reScontrolField = regexp.MustCompile(`(?:^|\s)(JobState|Reason|NodeList)=(\S*)`)

// parseJobState reads scontrol's one-line form ("JobId=12 JobName=... JobState=PENDING
// Reason=Resources ... NodeList=(null) ...").
func parseJobState(line string) jobState {
	var j jobState
	for _, m := range reScontrolField.FindAllStringSubmatch(line, -1) {
		switch m[1] {
		case "JobState":
			j.State = m[2]
		case "Reason":
			j.Reason = m[2]
		case "NodeList":
			j.NodeList = m[2]
		}
	}
	return j
}

// slurmCmd runs a Slurm client command with a time limit of its own: a stop must reach scancel
// even when the run's context is cancelled.
func slurmCmd(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if errors.Is(err, exec.ErrNotFound) {
		return "", fmt.Errorf("%s not found on PATH: launcher=slurm(...) needs the Slurm client commands (sbatch, scontrol, scancel) on the machine starlab runs on", name)
	}
	if err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = strings.TrimSpace(out.String())
		}
		return out.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, msg)
	}
	return out.String(), nil
}

// sbatch submits a job script and returns the job id (--parsable prints "ID" or "ID;CLUSTER").
func sbatch(scriptPath string) (string, error) {
	out, err := slurmCmd("sbatch", "--parsable", scriptPath)
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(strings.SplitN(strings.TrimSpace(out), ";", 2)[0])
	if id == "" {
		return "", fmt.Errorf("sbatch printed no job id")
	}
	return id, nil
}

// queryJob asks scontrol for a job's state; an id Slurm no longer knows is State "".
func queryJob(id string) (jobState, error) {
	out, err := slurmCmd("scontrol", "show", "job", "-o", id)
	if err != nil {
		if strings.Contains(err.Error(), "Invalid job id") {
			return jobState{}, nil
		}
		return jobState{}, err
	}
	return parseJobState(out), nil
}

// cancelJob cancels a job and waits until it has left RUNNING and COMPLETING (its processes are
// gone), for at most wait.
func cancelJob(id string, wait time.Duration) error {
	if st, err := queryJob(id); err == nil && !st.active() {
		return nil // ended already: scancel would only complain
	}
	if _, err := slurmCmd("scancel", id); err != nil && !strings.Contains(err.Error(), "Invalid job id") &&
		!strings.Contains(err.Error(), "already completing or completed") {
		return err
	}
	delay := 100 * time.Millisecond
	for deadline := time.Now().Add(wait); ; {
		st, err := queryJob(id)
		if err == nil && !st.active() {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return err
			}
			return fmt.Errorf("job %s is still %s %v after scancel", id, st.State, wait)
		}
		time.Sleep(delay)
		if delay < time.Second {
			delay *= 2
		}
	}
}
