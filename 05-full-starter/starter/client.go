package starter

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// clientPoll is how often Restart and Stop look at the files.
const clientPoll = 20 * time.Millisecond

// openRunning opens the pid file of a running start_server and returns its
// pid and the open file (the caller closes it). It fails with a clear error
// when there is no running instance: no pid file, or a pid file nobody holds
// the lock on (a stale file left by a killed server).
func openRunning(pidFile string) (int, *os.File, error) {
	f, err := os.Open(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil, fmt.Errorf("no running start_server: pid file %s does not exist", pidFile)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("pid file: %w", err)
	}
	pid, err := readPID(pidFile)
	if err != nil {
		f.Close()
		return 0, nil, err
	}
	if !locked(f) {
		f.Close()
		return 0, nil, fmt.Errorf("no running start_server: pid file %s is not locked (stale file of pid %d)", pidFile, pid)
	}
	return pid, f, nil
}

// locked reports whether another process holds the lock on f. It never
// blocks.
func locked(f *os.File) bool {
	err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	if err == nil {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		return false
	}
	return errors.Is(err, unix.EWOULDBLOCK)
}

// Stop is start_server --stop: it sends SIGTERM to the start_server whose
// --pid-file is pidFile and blocks until that server has shut down — it has
// released the pid file's lock, which it does as the very last step, after
// its workers exited and its files were removed — or timeout has passed
// (timeout <= 0: no limit; the server's own --kill-timeout bounds its
// shutdown). With no running instance it returns an error at once.
func Stop(pidFile string, timeout time.Duration) error {
	pid, f, err := openRunning(pidFile)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Kill(pid, unix.SIGTERM); err != nil {
		return fmt.Errorf("send SIGTERM to start_server (pid %d): %w", pid, err)
	}
	deadline := time.Now().Add(timeout)
	for locked(f) {
		if timeout > 0 && time.Now().After(deadline) {
			return fmt.Errorf("start_server (pid %d) is still running %v after SIGTERM", pid, timeout)
		}
		time.Sleep(clientPoll)
	}
	return nil
}

// Restart is start_server --restart: it sends SIGHUP to the start_server
// whose --pid-file is pidFile and blocks until its --status-file lists only
// generations newer than before (the new worker runs and every old one has
// exited).
//
// Unlike Perl's, it does not loop forever when the new worker fails to start:
// the server writes STATUSFILE.failed ("GEN REASON") on every failed start,
// and Restart returns an error as soon as a generation newer than every one
// it saw before the HUP (in the status file and that marker) has failed.
// (A retry the server had already started before the HUP and that fails
// afterwards counts too: it ran the same code.) The server keeps the old generation serving and
// keeps retrying with backoff; Restart does not wait for that. It also
// returns an error if the server exits meanwhile or timeout passes
// (timeout <= 0: no limit — wait on the evidence above; the server bounds
// every step of a restart with its own settings, which the caller may not
// know).
func Restart(pidFile, statusFile string, timeout time.Duration) error {
	pid, f, err := openRunning(pidFile)
	if err != nil {
		return err
	}
	defer f.Close()
	before, err := readStatusFile(statusFile)
	if err != nil {
		return fmt.Errorf("status file: %w", err)
	}
	if len(before) == 0 {
		return fmt.Errorf("status file %s lists no running worker", statusFile)
	}
	newest := 0
	for _, e := range before {
		newest = max(newest, e.gen)
	}
	if g, _, ok := readFailedFile(statusFile); ok {
		newest = max(newest, g) // an older failure is not this restart's
	}
	if err := unix.Kill(pid, unix.SIGHUP); err != nil {
		return fmt.Errorf("send SIGHUP to start_server (pid %d): %w", pid, err)
	}
	deadline := time.Now().Add(timeout)
	for {
		if g, reason, ok := readFailedFile(statusFile); ok && g > newest {
			return fmt.Errorf("new worker (generation %d) failed to start: %s; the old generation keeps serving and start_server retries with backoff", g, reason)
		}
		now, err := readStatusFile(statusFile)
		if err == nil && len(now) > 0 && !slices.ContainsFunc(now, func(e statusEntry) bool { return e.gen <= newest }) {
			return nil // the new worker runs, every older one has exited
		}
		if !locked(f) {
			return fmt.Errorf("start_server (pid %d) exited during the restart", pid)
		}
		if timeout > 0 && time.Now().After(deadline) {
			return fmt.Errorf("restart not done after %v: status file still lists %v (waiting for only generations > %d)", timeout, now, newest)
		}
		time.Sleep(clientPoll)
	}
}
