// Package slurmtest lets tests use a real Slurm cluster: the one-node cluster with 4 fake GPUs that
// scripts/slurm-up.sh starts on this machine. Tests that need it call Cluster, which skips them with
// the command that starts it when it is absent, except under CI (the CI variable set), where
// .ci/run always starts it and its absence is a failure. Every job a test submits carries a name
// from Name, so that the cleanup Name registers cancels exactly that test's jobs, never another's:
// several test binaries share the cluster.
package slurmtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Commands are the Slurm client commands starlab's Slurm launcher runs.
var Commands = []string{"sbatch", "squeue", "scontrol", "scancel"}

// pingTimeout bounds `scontrol ping`: a controller that does not answer in this time is absent
// (scontrol alone would wait for Slurm's 10 s message timeout).
const pingTimeout = 3 * time.Second

// StartHint is what a skipped test tells its reader to run, from the repository root.
const StartHint = `eval "$(scripts/slurm-up.sh)"`

var setConf sync.Once

// Cluster returns the SLURM_CONF of a running cluster: Slurm's commands are on PATH and
// `scontrol ping` reports the controller UP within a few seconds. SLURM_CONF comes from the
// environment or, when unset, from slurm-up.sh's default state directory
// (STARLAB_SLURM_DIR, or ~/.cache/starlab/slurm); in that case Cluster also sets SLURM_CONF in
// this process's environment, so the commands the test starts find the same cluster. It never uses
// the machine's default /etc/slurm configuration: tests must not submit jobs to a real site's
// cluster by accident. Without a cluster the test is skipped, or fails when CI is set.
func Cluster(t testing.TB) (conf string) {
	t.Helper()
	conf, err := find()
	if err != nil {
		msg := fmt.Sprintf("no Slurm cluster: %v; start the test cluster with %s", err, StartHint)
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " (.ci/run does; CI is set, so this is an error)")
		}
		t.Skip(msg)
	}
	return conf
}

func find() (string, error) {
	for _, c := range Commands {
		if _, err := exec.LookPath(c); err != nil {
			return "", fmt.Errorf("%s is not on PATH", c)
		}
	}
	conf := os.Getenv("SLURM_CONF")
	fromEnv := conf != ""
	if !fromEnv {
		dir := os.Getenv("STARLAB_SLURM_DIR")
		if dir == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("SLURM_CONF is not set and there is no home directory: %v", err)
			}
			dir = filepath.Join(home, ".cache", "starlab", "slurm")
		}
		conf = filepath.Join(dir, "slurm.conf")
		if _, err := os.Stat(conf); err != nil {
			return "", fmt.Errorf("SLURM_CONF is not set and %s does not exist", conf)
		}
	} else if _, err := os.Stat(conf); err != nil {
		return "", fmt.Errorf("SLURM_CONF=%s does not exist", conf)
	}
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	out, err := command(ctx, conf, "scontrol", "ping")
	if err != nil || !strings.Contains(out, " is UP") {
		return "", fmt.Errorf("`SLURM_CONF=%s scontrol ping` does not report the controller UP: %s",
			conf, firstLine(out, err))
	}
	if !fromEnv {
		setConf.Do(func() { os.Setenv("SLURM_CONF", conf) })
	}
	return conf, nil
}

var seq atomic.Int64

// Name returns a job name unique to this test and process, and registers a cleanup that cancels
// every job of that name (CancelAll). Submit with `sbatch --job-name=NAME`.
func Name(t testing.TB) string {
	t.Helper()
	currentConf(t)
	clean := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_")
	name := fmt.Sprintf("starlabtest-%s-%d-%d", clean, os.Getpid(), seq.Add(1))
	t.Cleanup(func() { CancelAll(t, name) })
	return name
}

// Jobs returns the ids, in submission order, of the jobs named name in any state, finished ones
// included (Slurm keeps those for MinJobAge, 5 minutes by default).
func Jobs(t testing.TB, name string) []string {
	t.Helper()
	ids, err := jobs(currentConf(t), name, "--states=all")
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// jobs lists the ids of name's jobs that squeue shows with the given extra arguments.
func jobs(conf, name string, args ...string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := command(ctx, conf, "squeue", append([]string{"-h", "--name=" + name, "-o", "%i"}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("squeue --name=%s: %s", name, firstLine(out, err))
	}
	ids := strings.Fields(out)
	sort.Slice(ids, func(i, j int) bool {
		a, _ := strconv.Atoi(ids[i])
		b, _ := strconv.Atoi(ids[j])
		return a < b
	})
	return ids, nil
}

// CancelAll cancels every job named name and waits until none is pending, running or completing
// (Slurm's KillWait, then SIGKILL to the job's process group). Jobs still there after 30 s are
// a test error. Name registers it as a cleanup; call it directly to cancel earlier.
func CancelAll(t testing.TB, name string) {
	t.Helper()
	conf := currentConf(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if out, err := command(ctx, conf, "scancel", "--name="+name); err != nil {
		t.Errorf("scancel --name=%s: %s", name, firstLine(out, err))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		left, err := jobs(conf, name) // squeue's default states: the jobs not yet finished
		if err == nil && len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("jobs named %s still in the queue 30 s after scancel: %v %v", name, left, err)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// State returns the job's JobState from `scontrol show job` (PENDING, RUNNING, COMPLETED, ...).
func State(t testing.TB, id string) string {
	t.Helper()
	conf := currentConf(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := command(ctx, conf, "scontrol", "show", "job", "-o", id)
	if err != nil {
		t.Fatalf("scontrol show job %s: %s", id, firstLine(out, err))
	}
	m := regexp.MustCompile(`\bJobState=(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("scontrol show job %s: no JobState in %q", id, out)
	}
	return m[1]
}

// Wait waits until the job has left the queue (it is no longer pending, running or completing)
// and returns its final JobState; a job still queued after timeout is a test failure.
func Wait(t testing.TB, id string, timeout time.Duration) (state string) {
	t.Helper()
	conf := currentConf(t)
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		out, err := command(ctx, conf, "squeue", "-h", "-j", id, "-o", "%T")
		cancel()
		// squeue's default states are the unfinished ones; a job purged after MinJobAge is
		// an "Invalid job id".
		if err != nil && strings.Contains(err.Error(), "Invalid job id") {
			return "PURGED"
		}
		if err == nil && strings.TrimSpace(out) == "" {
			return State(t, id)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still queued after %v: %s; scontrol: %s", id, timeout,
				firstLine(out, err), showJob(conf, id))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func showJob(conf, id string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := command(ctx, conf, "scontrol", "show", "job", "-o", id)
	return firstLine(out, err)
}

// currentConf is the SLURM_CONF that Cluster found; the helpers below never fall back to the
// machine's default configuration.
func currentConf(t testing.TB) string {
	t.Helper()
	conf := os.Getenv("SLURM_CONF")
	if conf == "" {
		t.Fatal("slurmtest: SLURM_CONF is not set; call slurmtest.Cluster first")
	}
	return conf
}

// command runs a Slurm command against conf and returns its standard output, with its standard
// error in the error.
func command(ctx context.Context, conf, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "SLURM_CONF="+conf)
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			err = fmt.Errorf("%v: %s", err, msg)
		}
		return stdout.String(), err
	}
	return stdout.String(), nil
}

// firstLine sums up a command's result for a message: the first line of its output, and its error.
func firstLine(out string, err error) string {
	out, _, _ = strings.Cut(strings.TrimSpace(out), "\n")
	switch {
	case err != nil && out != "":
		return out + " (" + err.Error() + ")"
	case err != nil:
		return err.Error()
	case out == "":
		return "(no output)"
	}
	return out
}
