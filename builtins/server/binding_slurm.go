package server

import (
	"encoding/json"
	"fmt"

	"go.starlark.net/starlark"

	"starlab/runtime"
	"starlab/runtime/paramerr"
)

func init() {
	runtime.Register(runtime.Builtin{
		Name: "slurm",
		Signature: `slurm(partition=None, account=None, qos=None, time=None, nodes=None, gpus_per_node=None,
      cpus_per_task=None, mem=None, constraint=None, setup=[], sbatch_args=[], env={})`,
		Doc: `Returns a Launcher that runs servers as Slurm batch jobs: start_vllm(..., launcher=slurm(...)).

Each server is one job submitted with "sbatch --parsable" from this machine (the Slurm client
commands must be on PATH), named starlab-<run>-<server>, its output in servers/<name>.log. The job
script (servers/<name>.slurm/job.sh) has #SBATCH lines for the settings given (partition,
account, qos, time, nodes, cpus_per_task, mem, constraint, then sbatch_args as they are),
--gres=gpu:N for the server's GPUs, exports env, runs the setup commands (module load, source a
venv), exports the server's env=, picks a free port on its node, writes its host and port to
servers/<name>.slurm/endpoint and execs the engine's command on 0.0.0.0 (the same command the
local launcher runs). The run directory must be on a file system the nodes share. starlab waits
until the job runs (logging why it pends), then for the engine's readiness over HTTP, all within
ready_timeout; a job still pending then is cancelled, and one that fails gives its last log lines.
Stopping the server, the end of the plan, an error and Ctrl-C cancel the job (scancel) and wait
until it has left RUNNING. The job id is in the manifest and the journal: --resume re-attaches to
the job of a killed run when it still runs the same script, and cancels it otherwise.
gpus_per_node is what one node has: a vllm server with more GPUs spans nodes (gpus must split
evenly) and runs vLLM's multi-node mode (a Ray cluster over the nodes, then vllm serve with
--distributed-executor-backend ray); nodes sets the node count. The settings are part of the
server's identity.`,
		Fn: slurmBuiltin,
	})
}

func slurmBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var partition, account, qos, tlimit, mem, constraint runtime.Opt[string]
	var nodes, gpn, cpus runtime.Opt[int]
	var setup, sbatchArgs runtime.Strings
	var env runtime.StringMap
	if err := runtime.UnpackArgs(thread, b, args, kwargs,
		"partition?", &partition, "account?", &account, "qos?", &qos, "time?", &tlimit, "nodes?", &nodes,
		"gpus_per_node?", &gpn, "cpus_per_task?", &cpus, "mem?", &mem, "constraint?", &constraint,
		"setup?", &setup, "sbatch_args?", &sbatchArgs, "env?", &env,
	); err != nil {
		return nil, err
	}
	for _, n := range []struct {
		name string
		v    runtime.Opt[int]
	}{{"nodes", nodes}, {"gpus_per_node", gpn}, {"cpus_per_task", cpus}} {
		if n.v.Set && n.v.V < 1 {
			return nil, paramerr.New(n.name, "want at least 1, got %d", n.v.V)
		}
	}
	s := &Slurm{Partition: partition.V, Account: account.V, QOS: qos.V, Time: tlimit.V, Nodes: nodes.V,
		GPUsPerNode: gpn.V, CPUsPerTask: cpus.V, Mem: mem.V, Constraint: constraint.V,
		Setup: setup, SbatchArgs: sbatchArgs, Env: env}
	if err := s.Check(); err != nil {
		return nil, err
	}
	return newLauncherValue(s), nil
}

// newLauncherValue is a Launcher as plans see it: its settings as attributes, and its settings as
// its step key (a start_vllm with another launcher is another step and another server).
func newLauncherValue(s *Slurm) *runtime.Object {
	data, _ := json.Marshal(s)
	var m map[string]any
	json.Unmarshal(data, &m)
	attrs := starlark.StringDict{"kind": starlark.String("slurm")}
	for _, k := range []string{"partition", "account", "qos", "time", "nodes", "gpus_per_node", "cpus_per_task", "mem", "constraint"} {
		attrs[k] = starlark.None
	}
	attrs["setup"], attrs["sbatch_args"] = starlark.NewList(nil), starlark.NewList(nil)
	attrs["env"] = starlark.NewDict(0)
	for k, v := range m {
		attrs[k] = runtime.FromJSON("", v, func(k string) bool { return true })
	}
	return runtime.NewObject("Launcher", attrs).WithState(s).
		WithKey(func() string { return "Launcher(slurm " + string(data) + ")" }).
		WithString(func() string { return fmt.Sprintf("<Launcher slurm %s>", data) })
}

// launcherArg resolves launcher=: None is this machine, else a Launcher from slurm().
func launcherArg(v starlark.Value) (*Slurm, error) {
	if v == nil || v == starlark.None {
		return nil, nil
	}
	s, ok := runtime.StateOf[*Slurm](v, "Launcher")
	if !ok {
		return nil, paramerr.New("launcher", "got %s, want a Launcher (from slurm()) or None (this machine)", v.Type())
	}
	return s, nil
}
