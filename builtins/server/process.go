package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is a server running as a child process group (vLLM spawns engine-core and worker
// processes: signalling the group is the only way to stop all of them).
type process struct {
	cmd    *exec.Cmd
	log    *os.File
	tail   *tailBuffer
	out    io.Writer // the log and the tail, for helpers whose output belongs to the server's log
	host   string
	port   int
	exited chan struct{}
	mu     sync.Mutex
	err    error // the exit status once exited
}

// startProcess starts argv with env in its own process group, its output appended to logPath.
// install says how to get the executable when it is missing.
func startProcess(argv []string, env []string, logPath, host string, port int, install string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logFile, "# starlab: %q\n", argv)
	p := &process{log: logFile, tail: newTailBuffer(200), host: host, port: port, exited: make(chan struct{})}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	p.out = io.MultiWriter(logFile, p.tail)
	cmd.Stdout, cmd.Stderr = p.out, p.out
	// Its own group, so stop() reaches vLLM's engine and worker processes and ollama's runner;
	// SIGTERM if starlab itself dies (even by SIGKILL), so no server outlives the run that
	// started it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	// Pdeathsig follows the thread that forks: keep it alive for the child's lifetime by forking
	// from a locked thread that is never unlocked while the child runs (see startLocked).
	if err := startLocked(cmd, p.exited); err != nil {
		logFile.Close()
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			where := "not found on PATH"
			if strings.ContainsRune(argv[0], '/') {
				where = "no such file"
			}
			return nil, fmt.Errorf("cannot start %s: %s; %s", argv[0], where, install)
		}
		return nil, fmt.Errorf("cannot start %s: %v", argv[0], err)
	}
	p.cmd = cmd
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		if err == nil {
			err = errors.New("exited with status 0")
		}
		p.err = err
		p.mu.Unlock()
		close(p.exited)
	}()
	return p, nil
}

func (p *process) url() string { return "http://" + net.JoinHostPort(p.host, strconv.Itoa(p.port)) }

// exitErr is nil while the process runs.
func (p *process) exitErr() error {
	select {
	case <-p.exited:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.err
	default:
		return nil
	}
}

// stop sends SIGTERM to the group, SIGKILL after grace, waits for the leader to exit and the
// port to close. Every process of the group is gone when it returns.
func (p *process) stop(grace time.Duration) {
	pgid := p.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
	}
	// Children may outlive the leader: the group is killed either way.
	syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.exited
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if syscall.Kill(-pgid, 0) != nil && portFree(p.host, p.port) {
			break
		}
	}
	p.log.Close()
}

// portFree reports whether nothing accepts connections on host:port.
func portFree(host string, port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), 200*time.Millisecond)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

// freePort asks the kernel for an unused loopback port.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady probes with backoff until the probe passes, the process exits, the deadline passes
// (timeout is ready_timeout, for the message) or ctx is cancelled.
func waitReady(ctx context.Context, probe func(context.Context) error, deadline time.Time, timeout time.Duration, exited func() error) error {
	delay := 50 * time.Millisecond
	for {
		if err := exited(); err != nil {
			return fmt.Errorf("the server exited before it was ready (%v)", err)
		}
		if probe(ctx) == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server was not ready after %v (ready_timeout)", timeout)
		}
		if err := sleepCtx(ctx, delay); err != nil {
			return err
		}
		if delay < 2*time.Second {
			delay = delay * 3 / 2
		}
	}
}

// sleepCtx waits for d or until ctx is cancelled.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// runHelper runs a command that works on a server (ollama create) to completion, in a process
// group of its own that is killed when ctx is cancelled, its output in the server's log.
func runHelper(ctx context.Context, argv, env []string, out io.Writer) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	exited := make(chan struct{})
	if err := startLocked(cmd, exited); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); close(exited) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return ctx.Err()
	}
}

// get is a GET that wants 200.
func get(ctx context.Context, hc *http.Client, url string) error {
	status, _, err := fetch(ctx, hc, url, 0)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("%s: HTTP %d", url, status)
	}
	return err
}

// startLocked starts cmd from an OS thread that stays locked, and so alive, until exited is
// closed: the kernel sends Pdeathsig when the forking thread ends, and Go may end idle threads.
func startLocked(cmd *exec.Cmd, exited <-chan struct{}) error {
	started := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		err := cmd.Start()
		started <- err
		if err != nil {
			goruntime.UnlockOSThread()
			return
		}
		<-exited // returning while locked ends the thread, after the child is gone
	}()
	return <-started
}
