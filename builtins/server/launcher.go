package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Launchers: where a process engine's command runs. The default (Spec.Launcher nil) is this
// machine (launchProcess); slurm(...) submits the same command, from ProcessEngine.Command, as a
// batch job. The engine adapter is the same either way: command line, readiness, version and
// capacity lines do not depend on where the engine runs.

// LauncherName is the launcher a spec runs on: "local" or "slurm".
func (s Spec) LauncherName() string {
	if s.Launcher != nil {
		return "slurm"
	}
	return "local"
}

// slurmJob is a server's batch job while starlab holds it.
type slurmJob struct {
	id      string
	logPath string
	offset  int64 // where this job's lines start in the log (earlier jobs' lines come before)
}

// jobRecord is written next to the job script as soon as sbatch answers, so a run killed during
// the start still knows its job when resumed (the journal records the start only once it is done).
type jobRecord struct {
	JobID        string `json:"job_id"`
	ScriptSHA256 string `json:"script_sha256"`
	LogOffset    int64  `json:"log_offset"`
}

// slurmDir is the server's directory for its job: job.sh, job.json, endpoint.
func (m *Manager) slurmDir(name string) string { return filepath.Join(m.Dir, "servers", name+".slurm") }

var reJobName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// slurmJobName is starlab-<run>-<server>, so squeue shows whose job it is.
func (m *Manager) slurmJobName(server string) string {
	return reJobName.ReplaceAllString("starlab-"+filepath.Base(m.Dir)+"-"+server, "_")
}

// slurmScript renders h's job script.
func (m *Manager) slurmScript(h *Handle, name string, e ProcessEngine, prefix []string) (string, error) {
	spec := h.Spec
	nodes, perNode, err := spec.Launcher.layout(spec)
	if err != nil {
		return "", err
	}
	dir, err := filepath.Abs(m.Dir)
	if err != nil {
		return "", err
	}
	bind := m.SlurmBind
	if bind == "" {
		bind = "0.0.0.0"
	}
	engineDir := filepath.Join(dir, "servers", name+"."+strings.ReplaceAll(e.Name(), ".", ""))
	var cmd Command
	if spec.Port != 0 {
		cmd = e.Command(prefix, spec, bind, spec.Port, engineDir)
	} else if cmd, err = portTemplate(e, prefix, spec, bind, engineDir); err != nil {
		return "", err
	}
	j := jobScript{JobName: m.slurmJobName(name), LogPath: filepath.Join(dir, "servers", name+".log"),
		Endpoint: filepath.Join(dir, "servers", name+".slurm", "endpoint"), Settings: spec.Launcher,
		Nodes: nodes, PerNode: perNode, Argv: cmd.Argv, Env: sortedEnv(cmd.Env, envList(spec.Env)), Dirs: cmd.Dirs,
		Port: spec.Port, Bind: bind}
	return j.render(), nil
}

// launchSlurm runs h's engine as a batch job: it re-attaches to the job a killed run left (same
// script, still queued or running) or cancels it, submits otherwise, waits for RUNNING (logging
// why the job pends), reads where the engine listens, then waits for its readiness, all within
// ready_timeout. Any failure cancels the job: a server never leaves a job behind.
func (m *Manager) launchSlurm(ctx context.Context, h *Handle, info *Info) error {
	spec := h.Spec
	e := engines[spec.Backend].(ProcessEngine)
	name := info.Name
	if strings.HasSuffix(strings.ToLower(spec.Model), ".gguf") {
		if err := checkModelFile(spec.Model); err != nil {
			return err
		}
	}
	prefix := resolveCommand(e, m.EngineCmds)
	script, err := m.slurmScript(h, name, e, prefix)
	if err != nil {
		return err
	}
	hash := scriptHash(script)
	logPath, err := m.logPath(name)
	if err != nil {
		return err
	}
	dir := m.slurmDir(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	deadline := time.Now().Add(spec.ReadyTimeout)
	job := m.adoptJob(h, name, hash)
	if job == nil {
		if job, err = m.submit(name, dir, script, hash, logPath); err != nil {
			return err
		}
	}
	job.logPath = logPath
	cancelled := false
	fail := func(err error) error {
		if !cancelled {
			if cerr := cancelJob(job.id, m.Grace+time.Minute); cerr != nil {
				m.log.Warn().Err(cerr).Str("server", name).Str("job", job.id).Msg("cancelling the job")
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("server %s: start interrupted; Slurm job %s was cancelled: %w", name, job.id, ctx.Err())
		}
		return fmt.Errorf("server %s (Slurm job %s) failed to start: %v; last log lines (%s):\n%s", name, job.id, err, logPath, job.tail(25))
	}
	st, err := m.waitRunning(ctx, name, job.id, deadline, spec.ReadyTimeout)
	if err != nil {
		if errors.Is(err, errPending) {
			cancelJob(job.id, m.Grace+time.Minute)
			return fmt.Errorf("server %s: Slurm job %s was still PENDING (reason: %s) after %v (ready_timeout); it was cancelled", name, job.id, st.Reason, spec.ReadyTimeout)
		}
		return fail(err)
	}
	host, port, devices, err := m.waitEndpoint(ctx, job.id, filepath.Join(dir, "endpoint"), deadline, spec.ReadyTimeout)
	if err != nil {
		return fail(err)
	}
	url := "http://" + net.JoinHostPort(host, strconv.Itoa(port))
	m.log.Info().Str("server", name).Str("job", job.id).Str("node", st.NodeList).Str("url", url).Msg("the Slurm job is running; waiting for the engine")
	hc := &http.Client{Timeout: 5 * time.Second}
	alive := func() error {
		st, err := queryJob(job.id)
		if err == nil && st.State != "RUNNING" {
			return fmt.Errorf("Slurm job %s is %s", job.id, orGone(st.State))
		}
		return nil
	}
	if err := waitReady(ctx, func(ctx context.Context) error { return e.Ready(ctx, hc, url) }, deadline, spec.ReadyTimeout, alive); err != nil {
		return fail(err)
	}
	cmd := e.Command(prefix, spec, host, port, filepath.Join(m.Dir, "servers", name+"."+strings.ReplaceAll(e.Name(), ".", "")))
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fail(err)
	}
	defer logFile.Close()
	pctx, cancel := context.WithDeadline(ctx, deadline)
	err = e.PostStart(pctx, &Started{Spec: spec, URL: url, Command: cmd, Prefix: prefix,
		Env: append(append(os.Environ(), cmd.Env...), envList(spec.Env)...), Dir: filepath.Dir(logPath), Log: logFile, Client: hc})
	cancel()
	if err != nil {
		return fail(err)
	}
	models, err := listModels(ctx, hc, url)
	if err != nil {
		return fail(err)
	}
	info.Model = models[0]
	if want := e.ServedName(spec); want != "" {
		if served, ok := matchModel(models, want); ok {
			info.Model = served
		}
	}
	info.URL, info.Devices, info.Command = url, devices, []string{"sbatch", "--parsable", filepath.Join(dir, "job.sh")}
	info.Launcher, info.JobID, info.ScriptSHA256 = "slurm", job.id, hash
	info.EngineVersion = e.Version(ctx, hc, url, job.log())
	for i := 0; i < 20 && e.Capacity(job.log()) == nil && sleepCtx(ctx, 100*time.Millisecond) == nil; i++ {
		// the capacity lines were printed before the engine answered, but the shared file
		// system may show them a little later
	}
	info.KVCache = e.Capacity(job.log())
	h.mu.Lock()
	h.job = job
	h.mu.Unlock()
	return nil
}

func orGone(state string) string {
	if state == "" {
		return "gone"
	}
	return state
}

// adoptJob re-attaches to the job recorded for this server (in the journaled Info or the record
// file) when it is still queued or running the same script; any other recorded job that is still
// active is cancelled, so a server never has two jobs.
func (m *Manager) adoptJob(h *Handle, name, hash string) *slurmJob {
	var recs []jobRecord
	if in := h.Info(); in.JobID != "" {
		recs = append(recs, jobRecord{JobID: in.JobID, ScriptSHA256: in.ScriptSHA256, LogOffset: -1})
	}
	if data, err := os.ReadFile(filepath.Join(m.slurmDir(name), "job.json")); err == nil {
		var r jobRecord
		if json.Unmarshal(data, &r) == nil && r.JobID != "" {
			recs = append(recs, r)
		}
	}
	var adopted *slurmJob
	for _, r := range recs {
		if adopted != nil && adopted.id == r.JobID {
			if r.LogOffset >= 0 {
				adopted.offset = r.LogOffset
			}
			continue
		}
		st, err := queryJob(r.JobID)
		if err != nil || !st.active() {
			continue
		}
		if adopted == nil && r.ScriptSHA256 == hash && (st.State == "RUNNING" || st.waiting()) {
			m.log.Info().Str("server", name).Str("job", r.JobID).Str("state", st.State).Msg("re-attaching to the Slurm job of the interrupted run")
			adopted = &slurmJob{id: r.JobID, offset: max(r.LogOffset, 0)}
			continue
		}
		m.log.Info().Str("server", name).Str("job", r.JobID).Str("state", st.State).Msg("cancelling the Slurm job of the interrupted run (its script differs)")
		if err := cancelJob(r.JobID, m.Grace+time.Minute); err != nil {
			m.log.Warn().Err(err).Str("job", r.JobID).Msg("cancelling a leftover job")
		}
	}
	return adopted
}

// submit writes the job script and submits it, recording the job id before anything else.
func (m *Manager) submit(name, dir, script, hash, logPath string) (*slurmJob, error) {
	path := filepath.Join(dir, "job.sh")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		return nil, err
	}
	os.Remove(filepath.Join(dir, "endpoint"))
	var offset int64
	if st, err := os.Stat(logPath); err == nil {
		offset = st.Size()
	}
	id, err := sbatch(path)
	if err != nil {
		return nil, fmt.Errorf("server %s: submitting the job: %v", name, err)
	}
	data, _ := json.Marshal(jobRecord{JobID: id, ScriptSHA256: hash, LogOffset: offset})
	if err := os.WriteFile(filepath.Join(dir, "job.json"), data, 0o644); err != nil {
		cancelJob(id, m.Grace+time.Minute)
		return nil, err
	}
	m.log.Info().Str("server", name).Str("job", id).Str("script", path).Str("log", logPath).Msg("submitted the server's Slurm job")
	return &slurmJob{id: id, offset: offset}, nil
}

var errPending = errors.New("still pending")

// waitRunning polls the job until it runs; a job that ends first is an error, one still pending
// at the deadline is errPending (with its state, for the reason). The pending reason is logged
// whenever it changes.
func (m *Manager) waitRunning(ctx context.Context, name, id string, deadline time.Time, timeout time.Duration) (jobState, error) {
	delay, reason := 100*time.Millisecond, ""
	for {
		st, err := queryJob(id)
		if err != nil {
			return st, err
		}
		switch {
		case st.State == "RUNNING":
			return st, nil
		case st.waiting():
			if st.Reason != reason {
				reason = st.Reason
				m.log.Info().Str("server", name).Str("job", id).Str("state", st.State).Str("reason", reason).Msg("waiting for the Slurm job to start")
			}
		default:
			return st, fmt.Errorf("the job ended before it served (%s, reason %s)", orGone(st.State), st.Reason)
		}
		if time.Now().After(deadline) {
			return st, errPending
		}
		if err := sleepCtx(ctx, delay); err != nil {
			return st, err
		}
		if delay < 2*time.Second {
			delay = delay * 3 / 2
		}
	}
}

// waitEndpoint waits for the job to write "JOBID HOST PORT DEVICES" to the endpoint file.
func (m *Manager) waitEndpoint(ctx context.Context, id, path string, deadline time.Time, timeout time.Duration) (string, int, []int, error) {
	for delay := 50 * time.Millisecond; ; {
		if data, err := os.ReadFile(path); err == nil {
			f := strings.Fields(string(data))
			if len(f) >= 3 && f[0] == id {
				port, err := strconv.Atoi(f[2])
				if err != nil {
					return "", 0, nil, fmt.Errorf("endpoint file %s: %q", path, data)
				}
				var devices []int
				if len(f) > 3 {
					for _, d := range strings.Split(f[3], ",") {
						if n, err := strconv.Atoi(d); err == nil {
							devices = append(devices, n)
						}
					}
				}
				return f[1], port, devices, nil
			}
		}
		st, err := queryJob(id)
		if err == nil && st.State != "RUNNING" {
			return "", 0, nil, fmt.Errorf("the job is %s before it wrote where the engine listens", orGone(st.State))
		}
		if time.Now().After(deadline) {
			return "", 0, nil, fmt.Errorf("the job wrote no endpoint file (%s) within %v (ready_timeout): is the run directory on a file system the nodes share?", path, timeout)
		}
		if err := sleepCtx(ctx, delay); err != nil {
			return "", 0, nil, err
		}
		if delay < time.Second {
			delay *= 2
		}
	}
}

// log is this job's part of the server's log.
func (j *slurmJob) log() string {
	f, err := os.Open(j.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(j.offset, io.SeekStart); err != nil {
		return ""
	}
	data, _ := io.ReadAll(io.LimitReader(f, 64<<20))
	return string(data)
}

// tail is the last n lines of this job's output.
func (j *slurmJob) tail(n int) string {
	lines := strings.Split(strings.TrimRight(j.log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// alive is nil while the job runs; else the error names its state and last log lines.
func (j *slurmJob) alive(name string) error {
	st, err := queryJob(j.id)
	if err != nil || st.State == "RUNNING" {
		return nil // a failing scontrol says nothing about the server
	}
	return fmt.Errorf("server %s died (Slurm job %s is %s); last log lines:\n%s", name, j.id, orGone(st.State), j.tail(20))
}

// stopJob cancels a held job (or one adopted from the journal and never re-attached) and waits
// until it has left RUNNING and COMPLETING.
func (m *Manager) stopJob(name, id string) {
	if err := cancelJob(id, m.Grace+time.Minute); err != nil {
		m.log.Warn().Err(err).Str("server", name).Str("job", id).Msg("cancelling the server's Slurm job")
		return
	}
	m.log.Info().Str("server", name).Str("job", id).Msg("Slurm job cancelled")
}

// cancelLeftJobs cancels the jobs recorded in the run directory that are still active once every
// server has stopped: a start interrupted before it was journaled, whose plan did not reach it
// again after --resume.
func (m *Manager) cancelLeftJobs() {
	records, _ := filepath.Glob(filepath.Join(m.Dir, "servers", "*.slurm", "job.json"))
	for _, p := range records {
		var r jobRecord
		if data, err := os.ReadFile(p); err != nil || json.Unmarshal(data, &r) != nil || r.JobID == "" {
			continue
		}
		if st, err := queryJob(r.JobID); err == nil && st.active() {
			m.stopJob(strings.TrimSuffix(filepath.Base(filepath.Dir(p)), ".slurm"), r.JobID)
		}
	}
}
