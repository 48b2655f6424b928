package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockName is the file in a run directory that holds the OS lock of the run using it.
const LockName = ".starlab.lock"

// runLock is an flock(2) on a run directory: one run (or resume) writes a directory at a time,
// and replays, which only read it, may share it with each other but not with a run. The kernel
// drops the lock when its process dies, so a killed run leaves no obstacle.
type runLock struct {
	f    *os.File
	path string
}

// lockRunDir takes dir's lock, exclusive for a run or resume, shared for a replay reading it; held
// by another process, it fails at once, naming that process.
func lockRunDir(dir string, shared bool) (*runLock, error) {
	path := filepath.Join(dir, LockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_EX
	if shared {
		how = syscall.LOCK_SH
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := "another starlab"
			if pid := strings.TrimSpace(string(holder)); pid != "" {
				who = "starlab (pid " + pid + ")"
			}
			return nil, Usagef("%s is in use by %s: wait for it to end or stop it; two runs cannot share a run directory", dir, who)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if !shared {
		f.Truncate(0)
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &runLock{f: f, path: path}, nil
}

// release removes the lock file (an exclusive holder's) and drops the lock.
func (l *runLock) release(remove bool) {
	if remove {
		os.Remove(l.path)
	}
	l.f.Close()
}
