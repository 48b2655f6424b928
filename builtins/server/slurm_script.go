package server

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// portWord marks, in an engine's argv and env, where the port the job picks goes.
const portWord = "\x00PORT\x00"

// jobScript is what a server's batch job runs, before it is rendered.
type jobScript struct {
	JobName  string
	LogPath  string // absolute: the job's output, servers/NAME.log
	Endpoint string // absolute: the file the job writes "JOBID HOST PORT CUDA_VISIBLE_DEVICES" to
	Settings *Slurm
	Nodes    int
	PerNode  int // GPUs per node; 0 for a CPU engine
	// Argv and Env are the engine's command; words holding portWord get the job's port.
	Argv []string
	Env  []string // KEY=VALUE, the engine's then the server's env= (later wins)
	Dirs []string
	// Port is fixed by port=; 0 lets the job pick a free one on its node.
	Port int
	// Bind is the address the engine listens on and, unless "0.0.0.0", the one starlab reaches it
	// at; "0.0.0.0" advertises the node's host name.
	Bind string
}

// render writes the job script: #SBATCH lines, the launcher's env, the setup commands, the
// port, the server's env, the endpoint file and then exec of the engine (on the first node, after
// a Ray cluster over all nodes for a multi-node server). The file system holding the run
// directory must be shared between this machine and the nodes: the job's log and endpoint file
// are read from there.
func (j jobScript) render() string {
	var b strings.Builder
	s := j.Settings
	b.WriteString("#!/bin/bash\n")
	sb := func(opt, v string) {
		if v != "" {
			fmt.Fprintf(&b, "#SBATCH %s=%s\n", opt, sbatchValue(v))
		}
	}
	sbInt := func(opt string, v int) {
		if v > 0 {
			sb(opt, strconv.Itoa(v))
		}
	}
	sb("--job-name", j.JobName)
	sb("--output", j.LogPath)
	sb("--open-mode", "append") // a resumed run's new job keeps the earlier job's lines
	sbInt("--nodes", j.Nodes)
	sbInt("--ntasks-per-node", 1)
	if j.PerNode > 0 {
		sb("--gres", "gpu:"+strconv.Itoa(j.PerNode))
	}
	sb("--partition", s.Partition)
	sb("--account", s.Account)
	sb("--qos", s.QOS)
	sb("--time", s.Time)
	sbInt("--cpus-per-task", s.CPUsPerTask)
	sb("--mem", s.Mem)
	sb("--constraint", s.Constraint)
	for _, line := range sbatchLines(s.SbatchArgs) {
		b.WriteString("#SBATCH " + line + "\n")
	}
	b.WriteString("# Written by starlab: a server as a batch job. The run directory must be on a file system\n" +
		"# shared with the nodes (this job writes its log and endpoint file there).\n")
	b.WriteString("set -e\n")
	for _, kv := range envList(s.Env) {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(v))
	}
	for _, c := range s.Setup {
		b.WriteString(c + "\n")
	}
	b.WriteString(`starlab_free_port() { # a port nothing on this node accepts connections on
  local p
  for _ in $(seq 1 500); do
    p=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "starlab: no free port found" >&2; return 1
}
`)
	if j.Port > 0 {
		fmt.Fprintf(&b, "PORT=%d\n", j.Port)
	} else {
		b.WriteString("PORT=$(starlab_free_port)\n")
	}
	for _, kv := range j.Env {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s=%s\n", k, shellWord(v))
	}
	if j.PerNode == 0 {
		b.WriteString("export CUDA_VISIBLE_DEVICES= # no GPUs: a CPU engine, as on the local machine\n")
	}
	for _, d := range j.Dirs {
		fmt.Fprintf(&b, "mkdir -p %s\n", shellQuote(d))
	}
	host := `"$(hostname)"`
	if j.Bind != "0.0.0.0" {
		host = shellQuote(j.Bind)
	}
	fmt.Fprintf(&b, "STARLAB_HOST=%s\n", host)
	if j.Nodes > 1 {
		b.WriteString(rayCluster(j.Nodes))
	}
	fmt.Fprintf(&b, "echo \"# starlab: job $SLURM_JOB_ID on $STARLAB_HOST port $PORT, CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-}\"\n")
	ep := shellQuote(j.Endpoint)
	fmt.Fprintf(&b, "printf '%%s %%s %%s %%s\\n' \"$SLURM_JOB_ID\" \"$STARLAB_HOST\" \"$PORT\" \"${CUDA_VISIBLE_DEVICES:-}\" > %s.tmp\n", ep)
	fmt.Fprintf(&b, "mv %s.tmp %s\n", ep, ep)
	words := make([]string, len(j.Argv))
	for i, w := range j.Argv {
		words[i] = shellWord(w)
	}
	if j.Nodes > 1 {
		words = append(words, "--distributed-executor-backend", "ray")
	}
	b.WriteString("exec " + strings.Join(words, " ") + "\n")
	return b.String()
}

// rayCluster starts Ray over the job's nodes the way vLLM documents multi-node serving
// (docs/serving/parallelism_scaling.md, "Multi-node deployment", and
// examples/online_serving/run_cluster.sh in vllm-project/vllm): `ray start --head --port=P` on
// the head node, `ray start --address=HEAD:P` on every other node with VLLM_HOST_IP set to the
// node's own address, all with --block so they live as long as the job; then `vllm serve` on the
// head with --distributed-executor-backend ray sees every node's GPUs. The workers run as job
// steps (srun -w NODE), so scancel reaches them; the script waits until Ray lists every node.
func rayCluster(nodes int) string {
	return fmt.Sprintf(`# Multi-node: a Ray cluster over the job's %[1]d nodes, as vLLM's multi-node recipe does.
mapfile -t STARLAB_NODES < <(scontrol show hostnames "$SLURM_JOB_NODELIST")
STARLAB_HEAD_IP=$(hostname --ip-address | awk '{print $1}')
RAY_PORT=$(starlab_free_port)
export VLLM_HOST_IP="$STARLAB_HEAD_IP"
export RAY_ADDRESS="$STARLAB_HEAD_IP:$RAY_PORT"
ray start --head --node-ip-address="$STARLAB_HEAD_IP" --port="$RAY_PORT" --block &
for i in $(seq 1 120); do ray status --address="$RAY_ADDRESS" >/dev/null 2>&1 && break; sleep 1; done
for node in "${STARLAB_NODES[@]:1}"; do
  srun --nodes=1 --ntasks=1 -w "$node" bash -c 'export VLLM_HOST_IP=$(hostname --ip-address | awk "{print \$1}"); exec ray start --address="$RAY_ADDRESS" --node-ip-address="$VLLM_HOST_IP" --block' &
done
starlab_ray_nodes() { python3 -c 'import ray; ray.init(address="auto", logging_level="ERROR"); print(sum(1 for n in ray.nodes() if n["Alive"]))' 2>/dev/null; }
for i in $(seq 1 300); do [ "$(starlab_ray_nodes)" = "%[1]d" ] && break; sleep 2; done
if [ "$(starlab_ray_nodes)" != "%[1]d" ]; then echo "starlab: Ray lists $(starlab_ray_nodes) of %[1]d nodes after 10 minutes" >&2; exit 1; fi
`, nodes)
}

// scriptHash identifies a job script: a resumed run re-attaches to a recorded job only when the
// script it would submit now is the same.
func scriptHash(script string) string {
	sum := sha256.Sum256([]byte(script))
	return hex.EncodeToString(sum[:])
}

var reShellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:=,@+%^-]+$`)

// shellQuote quotes a word for bash (single quotes unless it is plainly safe).
func shellQuote(s string) string {
	if s != "" && reShellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shellWord quotes a word whose portWord parts become "$PORT".
func shellWord(w string) string {
	parts := strings.Split(w, portWord)
	out := make([]string, 0, 2*len(parts))
	for i, p := range parts {
		if i > 0 {
			out = append(out, `"$PORT"`)
		}
		if p != "" || len(parts) == 1 {
			out = append(out, shellQuote(p))
		}
	}
	return strings.Join(out, "")
}

// sbatchValue quotes an #SBATCH value that holds spaces (sbatch strips the double quotes).
func sbatchValue(v string) string {
	if strings.ContainsAny(v, " \t") {
		return `"` + v + `"`
	}
	return v
}

// sbatchLines makes sbatch_args #SBATCH lines: an element that is not an option is the value of
// the option before it (["--reservation", "maint"]).
func sbatchLines(args []string) []string {
	var lines []string
	for _, a := range args {
		if len(lines) > 0 && !strings.HasPrefix(a, "-") {
			lines[len(lines)-1] += " " + sbatchValue(a)
			continue
		}
		lines = append(lines, a)
	}
	return lines
}

// portTemplate is the engine's command with the port left open: it is built for two ports and
// the words that differ get portWord where the port was, so any engine's Command (a --port flag,
// OLLAMA_HOST=host:port) works unchanged.
func portTemplate(e ProcessEngine, prefix []string, spec Spec, host, dir string) (Command, error) {
	const a, b = 47231, 51973
	ca, cb := e.Command(prefix, spec, host, a, dir), e.Command(prefix, spec, host, b, dir)
	argv, err := templateWords(ca.Argv, cb.Argv, a, b)
	if err != nil {
		return Command{}, err
	}
	env, err := templateWords(ca.Env, cb.Env, a, b)
	if err != nil {
		return Command{}, err
	}
	return Command{Argv: argv, Env: env, Dirs: ca.Dirs}, nil
}

func templateWords(wa, wb []string, a, b int) ([]string, error) {
	if len(wa) != len(wb) {
		return nil, fmt.Errorf("the engine's command line changes shape with the port")
	}
	sa, sb := strconv.Itoa(a), strconv.Itoa(b)
	out := make([]string, len(wa))
	for i := range wa {
		out[i] = wa[i]
		if wa[i] != wb[i] {
			out[i] = strings.ReplaceAll(wa[i], sa, portWord)
			if strings.ReplaceAll(out[i], portWord, sb) != wb[i] {
				return nil, fmt.Errorf("cannot find the port in %q", wa[i])
			}
		}
	}
	return out, nil
}

// sortedEnv merges KEY=VALUE lists, later ones winning, sorted by key.
func sortedEnv(lists ...[]string) []string {
	m := map[string]string{}
	for _, l := range lists {
		for _, kv := range l {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + m[k]
	}
	return out
}
