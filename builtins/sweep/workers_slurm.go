package sweep

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"starlab/builtins/server"
)

// client_launcher=slurm(...): each load-generator worker is one Slurm job step, `srun ... starlab
// sweep-worker`, started from this machine. srun forwards its stdin to a single task and the
// task's stdout back (srun(1) of Slurm 22.05, https://slurm.schedmd.com/srun.html, "IO
// Redirection": stdin "is redirected from the standard input of srun to all remote tasks", stdout
// "from all tasks to the stdout ... of srun"), so the worker protocol runs unchanged over srun's
// pipes. --unbuffered is not used: it runs the task on a
// pseudo-terminal, which would echo the job line into the record stream; the worker writes its
// lines unbuffered anyway. The worker binary is starlab's own executable by its absolute path, so
// the nodes must see it at the same path (a shared file system, as for the run directory).
//
// Outside an allocation each srun is a job of its own with one step; inside one (SLURM_JOB_ID set,
// starlab run under salloc or sbatch) srun makes a step of the current job from its resources, and
// the job-level settings (partition, account, qos) are left out.

// slurmStepPending bounds how long a worker's srun waits for its resources (srun --immediate):
// a step that is still pending then fails to start, which is the point's error ("ended before it
// was ready", with srun's message). A fixed minute rather than the point's request timeout (10
// minutes by default): load generators need a CPU each, and a cluster too busy to give one soon
// would skew the measurement anyway.
var slurmStepPending = time.Minute

// slurmStopGrace is how long a worker's srun may take to cancel its step after SIGTERM (srun
// waits up to the cluster's KillWait + 2 s) before it is killed and the step cancelled by name.
var slurmStopGrace = 20 * time.Second

// slurmWorkers launches and stops the workers of one sweep as Slurm job steps.
type slurmWorkers struct {
	slurm *server.Slurm
	// name is the base of the steps' names: worker w's is name-w<w>, so that squeue shows whose
	// it is and one worker's leftovers can be cancelled by name without touching the others.
	name string
	// worker is the command srun runs: starlab's executable and its sweep-worker subcommand.
	worker []string
	// allocation is SLURM_JOB_ID when starlab runs inside a job: the workers are its steps.
	allocation string
	log        zerolog.Logger
}

var reSlurmName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// newSlurmWorkers is the launcher of a sweep's workers under s, named after the run directory
// and the sweep (starlab-<run>-<sweep>-client-w<w>).
func newSlurmWorkers(s *server.Slurm, run, sweep string) (*slurmWorkers, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding starlab's executable for the load-generator workers: %w", err)
	}
	return &slurmWorkers{slurm: s, name: reSlurmName.ReplaceAllString("starlab-"+run+"-"+sweep+"-client", "_"),
		worker: []string{exe, WorkerCommandName}, allocation: os.Getenv("SLURM_JOB_ID")}, nil
}

// jobName is worker w's job (or step) name.
func (l *slurmWorkers) jobName(w int) string { return l.name + "-w" + strconv.Itoa(w) }

// srunArgs is worker w's command line: srun with the launcher's settings that apply to one task.
// nodes, gpus_per_node, setup and sbatch_args are the batch job's and do not apply.
func (l *slurmWorkers) srunArgs(w int) []string {
	s := l.slurm
	args := []string{"srun", "--job-name=" + l.jobName(w), "--ntasks=1", "--nodes=1", "--export=ALL",
		"--immediate=" + strconv.Itoa(max(1, int(slurmStepPending.Round(time.Second)/time.Second)))}
	opt := func(flag, v string) {
		if v != "" {
			args = append(args, flag+"="+v)
		}
	}
	if l.allocation == "" {
		opt("--partition", s.Partition)
		opt("--account", s.Account)
		opt("--qos", s.QOS)
	}
	opt("--time", s.Time)
	opt("--constraint", s.Constraint)
	if s.CPUsPerTask > 0 {
		opt("--cpus-per-task", strconv.Itoa(s.CPUsPerTask))
	}
	opt("--mem", s.Mem)
	return append(args, l.worker...)
}

// command is Options.WorkerCommand: srun in this process's environment, which --export=ALL
// passes on to the worker, with the launcher's env on top.
func (l *slurmWorkers) command(w int) (*exec.Cmd, error) {
	if _, err := exec.LookPath("srun"); err != nil {
		return nil, fmt.Errorf("srun not found on PATH: client_launcher=slurm(...) runs the load-generator workers with srun from this machine")
	}
	args := l.srunArgs(w)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), WorkerEnv+"=1")
	for k, v := range l.slurm.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd, nil
}

// stop is Options.WorkerStop: SIGTERM to srun, which cancels its step and waits for it (SIGKILL
// to the whole group would also kill srun's forked child, which cancels the job when srun dies;
// the step would then run on), SIGKILL to srun alone if it does not end in slurmStopGrace, then a
// cancel by name of whatever is still queued, and last the wait for srun's child to go.
func (l *slurmWorkers) stop(w int, cmd *exec.Cmd) {
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(slurmStopGrace):
		syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	if err := l.cancelLeft(l.jobName(w), 30*time.Second); err != nil {
		l.log.Error().Err(err).Int("worker", w).Msg("sweep: a load-generator worker's Slurm step outlived its cancel")
	}
	for deadline := time.Now().Add(5 * time.Second); syscall.Kill(-cmd.Process.Pid, 0) == nil; {
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cancelLeft cancels what is still queued under name (the job outside an allocation, the step
// inside one) and waits up to wait for it to leave the queue. The name is the worker's alone.
func (l *slurmWorkers) cancelLeft(name string, wait time.Duration) error {
	for deadline := time.Now().Add(wait); ; {
		ids, err := l.queued(name)
		if err == nil && len(ids) == 0 {
			return nil
		}
		if err == nil {
			_, err = slurmRun("scancel", ids...)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("Slurm still lists %s %v after scancel: %v", name, ids, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// queued lists the ids squeue shows under name in an unfinished state: jobs, or inside an
// allocation the steps of the current job ("JOB.STEP").
func (l *slurmWorkers) queued(name string) ([]string, error) {
	if l.allocation == "" {
		out, err := slurmRun("squeue", "-h", "--name="+name, "-o", "%i")
		return strings.Fields(out), err
	}
	out, err := slurmRun("squeue", "-h", "--steps", "-j", l.allocation, "-o", "%i %j")
	var ids []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] == name {
			ids = append(ids, f[0])
		}
	}
	return ids, err
}

// slurmRun runs a Slurm client command with a time limit of its own (a stop must reach scancel
// even when the run is cancelled).
func slurmRun(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}
