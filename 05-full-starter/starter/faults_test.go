package starter

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"hotdeploy/internal/proc"
)

// The starter under faults (issue 10): each test here failed before its fix.

// startStarterShell is startStarter with the starter run by sh after the
// shell command setup (a ulimit, say); sh execs it, so the pid is the
// starter's.
func startStarterShell(t *testing.T, setup string, cfg Config) *starterProc {
	t.Helper()
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command("sh", "-c", setup+` && exec "$0"`, exe)
	cmd.Env = append(os.Environ(), configEnv+"="+string(b))
	p, err := proc.StartCmd(cmd)
	require.NoError(t, err)
	proc.Track(t, p)
	return &starterProc{p, t}
}

// A pid file that cannot be written fails the start (it was swallowed:
// staticcheck SA4006), and the file this process created is removed.
func TestRealPIDFileWriteError(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	// RLIMIT_FSIZE 0: creating the file works, writing "PID\n" fails (EFBIG).
	p := startStarterShell(t, "ulimit -f 0", Config{Command: workerCmd(), PIDFile: pidFile, Interval: 100 * time.Millisecond})
	p.waitLine(`^start_server: pid file %s: write: file too large$`, regexp.QuoteMeta(pidFile))
	assert.Equal(t, 1, p.WaitT(t))
	assert.NotContains(t, p.Output(), "starting new worker")
	assert.Equal(t, "<none>", fileContent(pidFile), "the empty pid file it created is removed")
}

// A second start_server with the same --status-file that fails (its port is
// in use) leaves the running server's status file and failure marker alone.
func TestRealFailedSecondInstanceKeepsStatusFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	statusFile, failFlag := filepath.Join(dir, "status"), filepath.Join(dir, "fail")
	p := startStarter(t, Config{
		Ports: []string{"127.0.0.1:0"}, Command: workerCmd("-notify", "-fail-if-exists", failFlag),
		Interval: 5 * time.Second, StatusFile: statusFile,
	})
	addr := p.boundAddr()
	pid1 := p.workerUp(1)
	p.waitLine(`^new worker %d is now running$`, pid1)
	// A failed start, so that the failure marker exists too.
	require.NoError(t, os.WriteFile(failFlag, nil, 0o644))
	p.SignalT(t, syscall.SIGHUP)
	p.waitLine(`^new worker \d+ seems to have failed to start`)
	require.FileExists(t, failedFile(statusFile))

	second := startStarter(t, Config{Ports: []string{addr}, Command: workerCmd(), StatusFile: statusFile})
	second.waitLine(`^start_server: port %s: bind: address already in use$`, addr)
	assert.Equal(t, 1, second.WaitT(t))
	assert.Equal(t, fmt.Sprintf("1:%d\n", pid1), fileContent(statusFile), "the running server's status file")
	assert.FileExists(t, failedFile(statusFile), "the running server's failure marker")

	p.stop()
	assert.Equal(t, "<none>", fileContent(statusFile), "removed by its owner")
	assert.Equal(t, "<none>", fileContent(failedFile(statusFile)), "removed by its owner")
}

// The status file and the failure marker are written through a temp file
// and renamed; a symlink planted at the old temp name (STATUS.<pid>) must
// not be followed.
func TestRealStatusFileWriteDoesNotFollowSymlinks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	statusFile, failFlag := filepath.Join(dir, "status"), filepath.Join(dir, "fail")
	p := startStarter(t, Config{
		Ports: []string{"127.0.0.1:0"}, Command: workerCmd("-notify", "-fail-if-exists", failFlag),
		Interval: 5 * time.Second, StatusFile: statusFile,
	})
	pid1 := p.workerUp(1)
	p.waitLine(`^new worker %d is now running$`, pid1)
	victim := filepath.Join(dir, "victim")
	const precious = "precious\n"
	require.NoError(t, os.WriteFile(victim, []byte(precious), 0o644))
	for _, f := range []string{statusFile, failedFile(statusFile)} {
		require.NoError(t, os.Symlink(victim, f+"."+strconv.Itoa(p.PID())))
	}

	require.NoError(t, os.WriteFile(failFlag, nil, 0o644))
	p.SignalT(t, syscall.SIGHUP) // writes the failure marker
	p.waitLine(`^new worker \d+ seems to have failed to start`)
	require.NoError(t, os.Remove(failFlag))
	p.SignalT(t, syscall.SIGHUP) // writes the status file
	p.waitLine(`^new worker is now running, sending TERM to old workers:%d$`, pid1)
	waitFor(t, "status file without generation 1", func() bool {
		s, err := readStatusFile(statusFile)
		return err == nil && len(s) == 1 && s[0].gen > 1
	})

	assert.Equal(t, precious, fileContent(victim), "the symlink's target is untouched")
	fi, err := os.Lstat(statusFile)
	require.NoError(t, err)
	assert.True(t, fi.Mode().IsRegular(), "the status file is a regular file, not the planted symlink: %v", fi.Mode())
	p.stop()
}

// --port …=FD with FD at or above the fd limit: no worker could ever get
// it (dup2 fails), so the start is refused with one line, nothing bound.
func TestRealPortFDAboveLimit(t *testing.T) {
	t.Parallel()
	p := startStarterShell(t, "ulimit -n 256", Config{
		Ports: []string{"127.0.0.1:0=300"}, Command: workerCmd(), Interval: 100 * time.Millisecond,
	})
	p.waitLine(`^start_server: port 127\.0\.0\.1:0=300: file descriptor 300 is not below the limit of open files \(256\)$`)
	assert.Equal(t, 1, p.WaitT(t))
	assert.NotContains(t, p.Output(), "listening on")
	assert.NotContains(t, p.Output(), "starting new worker")
}

// The workers' NOTIFY_SOCKET leaves nothing on disk, even when the starter
// is killed with SIGKILL: on Linux it is in the abstract namespace.
func TestRealNotifySocketLeavesNothingOnDisk(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("abstract unix sockets are Linux-only")
	}
	t.Parallel()
	p := startStarter(t, Config{Ports: []string{"127.0.0.1:0"}, Command: workerCmd("-dump", "-notify"), Interval: 10 * time.Second})
	m := p.waitLine(`^starting new worker (\d+)$`)
	pid, _ := strconv.Atoi(m[1])
	p.waitLine(`^new worker %d is ready`, pid) // READY=1 arrived through it
	ns := p.dumpOf(pid).env["NOTIFY_SOCKET"]
	require.NotEmpty(t, ns)

	p.Kill() // no cleanup at all; SIGKILL to the group may have taken the worker already
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		require.ErrorIs(t, err, syscall.ESRCH)
	}
	waitFor(t, "the orphaned worker to die", func() bool {
		f, err := proc.StatFields(pid)
		return err != nil || f[0] == "Z" || f[0] == "X"
	})
	assert.True(t, strings.HasPrefix(ns, "@"), "NOTIFY_SOCKET %q is in the abstract namespace", ns)
	if !strings.HasPrefix(ns, "@") {
		assert.NoDirExists(t, filepath.Dir(ns), "left on disk by the killed starter")
	}
}

// tryGet is get without failing the test: 0 if the request failed.
func tryGet(addr string) int {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		return 0
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	pid, _ := strconv.Atoi(resp.Header.Get("X-Pid"))
	return pid
}
