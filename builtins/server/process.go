package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
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
	host   string
	port   int
	exited chan struct{}
	mu     sync.Mutex
	err    error // the exit status once exited
}

// startProcess starts argv with env in its own process group, its output appended to logPath.
func startProcess(argv []string, env []string, logPath, host string, port int) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logFile, "# starlab: %q\n", argv)
	p := &process{log: logFile, tail: newTailBuffer(200), host: host, port: port, exited: make(chan struct{})}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	out := io.MultiWriter(logFile, p.tail)
	cmd.Stdout, cmd.Stderr = out, out
	// Its own group, so stop() reaches vLLM's engine and worker processes; SIGTERM if starlab
	// itself dies (even by SIGKILL), so no server outlives the run that started it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	// Pdeathsig follows the thread that forks: keep it alive for the child's lifetime by forking
	// from a locked thread that is never unlocked while the child runs (see startLocked).
	if err := startLocked(cmd, p.exited); err != nil {
		logFile.Close()
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("cannot start %s: not found on PATH; install vLLM, point --vllm-cmd (or STARLAB_VLLM) at it, or use backend=\"sim\"", argv[0])
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

// waitReady polls /health and then /v1/models with backoff until both answer 200, the process
// exits, the timeout passes or ctx is cancelled. It returns the served model names.
func waitReady(ctx context.Context, url string, timeout time.Duration, exited func() error) ([]string, error) {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: 5 * time.Second}
	delay := 50 * time.Millisecond
	for {
		if err := exited(); err != nil {
			return nil, fmt.Errorf("the server exited before it was ready (%v)", err)
		}
		if ok := get(ctx, hc, url+"/health") == nil; ok {
			models, err := listModels(ctx, hc, url)
			if err == nil {
				return models, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the server was not ready after %v (ready_timeout)", timeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		if delay < 2*time.Second {
			delay = delay * 3 / 2
		}
	}
}

func get(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	return nil
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
