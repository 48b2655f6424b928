package server

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// scriptFor renders the job script a manager with run directory dir would submit for spec.
func scriptFor(t *testing.T, dir string, spec Spec) (string, error) {
	t.Helper()
	if err := spec.Normalize(); err != nil {
		return "", err
	}
	m := NewManager(dir, -1, zerolog.Nop())
	e := engines[spec.Backend].(ProcessEngine)
	name := spec.Name
	if name == "" {
		name = spec.DefaultName()
	}
	return m.slurmScript(&Handle{Spec: spec}, name, e, resolveCommand(e, nil))
}

func TestSlurmScript(t *testing.T) {
	t.Setenv("STARLAB_VLLM", "")
	t.Setenv("STARLAB_OLLAMA", "")
	dir := "/shared/runs/20250101T000000Z-plan"
	cases := []struct {
		name string
		spec Spec
		want []string // lines (or line fragments after "~") the script must have, in this order
		not  []string // fragments it must not have
		err  string
	}{{
		name: "one node, one GPU, defaults",
		spec: Spec{Model: "meta-llama/Llama-3.1-8B-Instruct", GPUs: 1, Launcher: &Slurm{}},
		want: []string{"#!/bin/bash",
			"#SBATCH --job-name=starlab-20250101T000000Z-plan-Llama-3.1-8B-Instruct-1gpu",
			"#SBATCH --output=/shared/runs/20250101T000000Z-plan/servers/Llama-3.1-8B-Instruct-1gpu.log",
			"#SBATCH --open-mode=append", "#SBATCH --nodes=1", "#SBATCH --ntasks-per-node=1", "#SBATCH --gres=gpu:1",
			"set -e", "PORT=$(starlab_free_port)", `STARLAB_HOST="$(hostname)"`,
			`~> /shared/runs/20250101T000000Z-plan/servers/Llama-3.1-8B-Instruct-1gpu.slurm/endpoint.tmp`,
			`exec vllm serve meta-llama/Llama-3.1-8B-Instruct --host 0.0.0.0 --port "$PORT"`},
		not: []string{"--partition", "--account", "--time", "ray start", "--distributed-executor-backend", "CUDA_VISIBLE_DEVICES= "},
	}, {
		name: "settings become #SBATCH lines; env, setup, server env in order; quoting",
		spec: Spec{Name: "big one", Model: "m", GPUs: 4, TensorParallel: 2, DataParallel: 2, Port: 8123,
			ExtraArgs: []string{"--chat-template", "{{ it's }}"}, Env: map[string]string{"VLLM_LOGGING_LEVEL": "DEBUG", "HF_HOME": "/srv/hf cache"},
			Launcher: &Slurm{Partition: "gpu", Account: "lab", QOS: "high", Time: "2:00:00", GPUsPerNode: 4, CPUsPerTask: 16,
				Mem: "64G", Constraint: "h100", Setup: []string{"module load cuda/12.4", "source ~/venvs/vllm/bin/activate"},
				SbatchArgs: []string{"--exclusive", "--reservation", "maint window"}, Env: map[string]string{"HF_HOME": "/srv/hf", "A": "x y"}}},
		want: []string{"#SBATCH --job-name=starlab-20250101T000000Z-plan-big_one",
			"#SBATCH --nodes=1", "#SBATCH --gres=gpu:4", "#SBATCH --partition=gpu", "#SBATCH --account=lab", "#SBATCH --qos=high",
			"#SBATCH --time=2:00:00", "#SBATCH --cpus-per-task=16", "#SBATCH --mem=64G", "#SBATCH --constraint=h100",
			"#SBATCH --exclusive", `#SBATCH --reservation "maint window"`,
			"export A='x y'", "export HF_HOME=/srv/hf", "module load cuda/12.4", "source ~/venvs/vllm/bin/activate",
			"PORT=8123", "export HF_HOME='/srv/hf cache'", "export VLLM_LOGGING_LEVEL=DEBUG",
			`exec vllm serve m --host 0.0.0.0 --port 8123 --tensor-parallel-size 2 --data-parallel-size 2 --chat-template '{{ it'\''s }}'`},
		not: []string{"starlab_free_port)\n"},
	}, {
		name: "2 nodes × 4 GPUs: Ray over the nodes, vllm serve on the head",
		spec: Spec{Model: "meta-llama/Llama-3.1-70B-Instruct", GPUs: 8, TensorParallel: 8, Launcher: &Slurm{GPUsPerNode: 4, Partition: "gpu"}},
		want: []string{"#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=1", "#SBATCH --gres=gpu:4", "#SBATCH --partition=gpu",
			`mapfile -t STARLAB_NODES < <(scontrol show hostnames "$SLURM_JOB_NODELIST")`,
			`export RAY_ADDRESS="$STARLAB_HEAD_IP:$RAY_PORT"`,
			`ray start --head --node-ip-address="$STARLAB_HEAD_IP" --port="$RAY_PORT" --block &`,
			`~srun --nodes=1 --ntasks=1 -w "$node" bash -c`, `~ray start --address="$RAY_ADDRESS"`,
			`~= "2" ] && break`,
			`~> /shared/runs/20250101T000000Z-plan/servers/Llama-3.1-70B-Instruct-8gpu.slurm/endpoint.tmp`,
			`exec vllm serve meta-llama/Llama-3.1-70B-Instruct --host 0.0.0.0 --port "$PORT" --tensor-parallel-size 8 --distributed-executor-backend ray`},
	}, {
		name: "nodes= splits the GPUs",
		spec: Spec{Model: "m", GPUs: 8, Launcher: &Slurm{Nodes: 4}},
		want: []string{"#SBATCH --nodes=4", "#SBATCH --gres=gpu:2", `~= "4" ] && break`, "~--distributed-executor-backend ray"},
	}, {
		name: "a CPU engine hides the GPUs; its env takes the port",
		spec: Spec{Backend: EngineOllama, Model: "/models/tiny.gguf", GPUs: 0, Launcher: &Slurm{}},
		want: []string{"#SBATCH --nodes=1", "PORT=$(starlab_free_port)", `~export OLLAMA_HOST=0.0.0.0:"$PORT"`,
			"export CUDA_VISIBLE_DEVICES= # no GPUs: a CPU engine, as on the local machine", "~mkdir -p /shared/runs/20250101T000000Z-plan/servers/tiny-ollama-cpu.ollama", "exec ollama serve"},
		not: []string{"--gres"},
	}, {
		name: "uneven split", spec: Spec{Model: "m", GPUs: 5, Launcher: &Slurm{GPUsPerNode: 4}},
		err: "gpus=5 do not split evenly over 2 nodes",
	}, {
		name: "multi-node is vLLM's", spec: Spec{Backend: EngineSGLang, Model: "m", GPUs: 8, Launcher: &Slurm{GPUsPerNode: 4}},
		err: "multi-node servers are vLLM's",
	}, {
		name: "multi-node data parallel", spec: Spec{Model: "m", GPUs: 8, DataParallel: 2, Launcher: &Slurm{GPUsPerNode: 4}},
		err: "data_parallel",
	}, {
		name: "no launcher for sim", spec: Spec{Backend: BackendSim, Model: "Llama-3.1-8B", GPUs: 1, Launcher: &Slurm{}},
		err: "launcher= is for vllm",
	}, {
		name: "bad time", spec: Spec{Model: "m", GPUs: 1, Launcher: &Slurm{Time: "two hours"}},
		err: "time",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			script, err := scriptFor(t, dir, c.spec)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(script, "\n")
			at := 0
			for _, w := range c.want {
				found := false
				for ; at < len(lines); at++ {
					if l := lines[at]; l == w || (strings.HasPrefix(w, "~") && strings.Contains(l, w[1:])) {
						found = true
						break
					}
				}
				if !found {
					t.Fatalf("no line %q (in this order) in\n%s", w, script)
				}
			}
			for _, n := range c.not {
				if strings.Contains(script, n) {
					t.Errorf("script has %q:\n%s", n, script)
				}
			}
			if out, err := exec.Command("bash", "-n", "-c", script).CombinedOutput(); err != nil {
				t.Errorf("bash -n: %v\n%s\n%s", err, out, script)
			}
		})
	}
}

// The script's shell parts run as they would in a job: the free port, the endpoint file, the
// quoted command line (here echo instead of exec of the engine).
func TestSlurmScriptRuns(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "servers", "x.slurm"), 0o755)
	j := jobScript{JobName: "j", LogPath: filepath.Join(dir, "servers", "x.log"), Endpoint: filepath.Join(dir, "servers", "x.slurm", "endpoint"),
		Settings: &Slurm{Env: map[string]string{"Q": `a "b" 'c' $d`}}, Nodes: 1, PerNode: 1, Bind: "127.0.0.1",
		Argv: []string{"printf", `[%s]`, "--port", portWord, "it's", "x=" + portWord + "/y"}, Env: []string{"E=h:" + portWord}}
	cmd := exec.Command("bash", "-c", j.render())
	cmd.Env = append(os.Environ(), "SLURM_JOB_ID=77", "CUDA_VISIBLE_DEVICES=2,3")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	data, err := os.ReadFile(j.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(data))
	if len(f) != 4 || f[0] != "77" || f[1] != "127.0.0.1" || f[3] != "2,3" {
		t.Fatalf("endpoint %q", data)
	}
	port := f[2]
	if want := "[--port][" + port + "][it's][x=" + port + "/y]"; !strings.Contains(string(out), want) {
		t.Fatalf("output %q lacks %q", out, want)
	}
	m := NewManager(dir, -1, zerolog.Nop())
	host, p, devices, err := m.waitEndpoint(t.Context(), "77", j.Endpoint, time.Now().Add(time.Second), time.Second)
	if err != nil || host != "127.0.0.1" || p == 0 || len(devices) != 2 || devices[1] != 3 {
		t.Fatalf("waitEndpoint: %v %v %v %v", host, p, devices, err)
	}
}

func TestParseJobState(t *testing.T) {
	line := "JobId=12 JobName=starlab-x UserId=root(0) JobState=PENDING Reason=Resources Dependency=(null) NodeList=(null) StdOut=/r/servers/x.log Command=/r/a b"
	st := parseJobState(line)
	if st.State != "PENDING" || st.Reason != "Resources" || st.NodeList != "(null)" || !st.active() || !st.waiting() {
		t.Fatalf("%+v", st)
	}
	if st := parseJobState("JobId=3 JobState=CANCELLED Reason=None NodeList=vm"); st.active() || st.NodeList != "vm" {
		t.Fatalf("%+v", st)
	}
}

func TestPortTemplate(t *testing.T) {
	cmd, err := portTemplate(ollamaEngine{}, []string{"ollama"}, Spec{Model: "/m/t.gguf", MaxNumSeqs: 2}, "0.0.0.0", "/d")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, kv := range cmd.Env {
		if kv == "OLLAMA_HOST=0.0.0.0:"+portWord {
			found = true
		}
	}
	if !found {
		t.Fatalf("env %q", cmd.Env)
	}
}
