package main

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"hotdeploy/internal/proc"
)

// --daemonize as an init script uses it: started from a terminal session,
// start_server returns 0 once the daemon listens; the daemon, in a session
// of its own, survives the end of that session; --restart and --stop work
// against it, and nothing is left after --stop.
func TestDaemonize(t *testing.T) {
	dir := t.TempDir()
	logFile, pidFile, statusFile := filepath.Join(dir, "log"), filepath.Join(dir, "pid"), filepath.Join(dir, "status")
	sock := filepath.Join(dir, "server.sock") // as Perl's t/13-unix-daemonize.t
	// A shell as the terminal session's leader: it runs start_server, says
	// how it exited, and stays, as a login shell would.
	sh := exec.Command("sh", "-c", `"$0" "$@"; echo "start_server exited $?"; exec sleep 60`, starterBin,
		"--daemonize", "--log-file", logFile, "--pid-file", pidFile, "--status-file", statusFile,
		"--port", "127.0.0.1:0", "--path", sock, "--", exampleBin)
	sh.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	session, err := proc.StartCmd(sh)
	require.NoError(t, err)
	proc.Track(t, session)
	session.WaitLineT(t, `^start_server exited 0$`)

	// It returned after the daemon took the pid file and bound the socket.
	daemon, err := strconv.Atoi(strings.TrimSpace(fileContent(t, pidFile)))
	require.NoError(t, err, "the pid file exists when start_server returns")
	fi, err := os.Stat(sock)
	require.NoError(t, err, "so does the --path socket")
	assert.Equal(t, os.ModeSocket, fi.Mode().Type())
	t.Cleanup(func() {
		if unix.Kill(daemon, 0) == nil {
			t.Errorf("daemon %d still running at the end of the test (killed now)", daemon)
			unix.Kill(daemon, unix.SIGKILL)
		}
	})
	sid, err := unix.Getsid(daemon)
	require.NoError(t, err)
	assert.Equal(t, daemon, sid, "the daemon leads a session of its own")
	assert.NotEqual(t, session.PID(), sid)
	m := regexp.MustCompile(`listening on tcp (\S+) `).FindStringSubmatch(fileContent(t, logFile))
	require.NotNil(t, m, "the log says where it listens:\n%s", fileContent(t, logFile))
	addr := m[1]

	// The terminal goes away: its whole session is killed.
	require.NoError(t, unix.Kill(-session.PID(), unix.SIGHUP))
	session.Kill()
	session.WaitT(t)
	require.NoError(t, unix.Kill(daemon, 0), "the daemon survives its parent's session")
	first := servedBy(t, addr)
	// --restart wants a running generation in the status file.
	deadline := time.Now().Add(proc.ReadyTimeout)
	for st, _ := readStatus(statusFile); st[1] != first && time.Now().Before(deadline); st, _ = readStatus(statusFile) {
		time.Sleep(10 * time.Millisecond)
	}

	res := runCLI(t, nil, "--restart", "--pid-file", pidFile, "--status-file", statusFile)
	require.Equal(t, 0, res.code, "--restart: %s", res.stderr)
	s := mustStatus(t, statusFile)
	assert.Equal(t, []int{2}, gens(s), "only generation 2 after --restart")
	assert.Equal(t, s[2], servedBy(t, addr), "generation 2 serves")
	assert.NotEqual(t, first, s[2])

	res = runCLI(t, nil, "--stop", "--pid-file", pidFile)
	require.Equal(t, 0, res.code, "--stop: %s", res.stderr)
	assert.NoFileExists(t, pidFile)
	assert.NoFileExists(t, statusFile)
	assert.NoFileExists(t, sock)
	assert.True(t, proc.Exited(s[2]), "the worker has exited")
	deadline = time.Now().Add(proc.ExitTimeout)
	for unix.Kill(daemon, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.ErrorIs(t, unix.Kill(daemon, 0), unix.ESRCH, "the daemon has exited")
	assert.Contains(t, fileContent(t, logFile), "exiting")
}

// A bind error of the daemon reaches the caller: one line, exit 1, and
// nothing keeps running or stays on disk.
func TestDaemonizeBindError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	dir := t.TempDir()
	logFile, pidFile := filepath.Join(dir, "log"), filepath.Join(dir, "pid")
	res := runCLI(t, nil, "--daemonize", "--log-file", logFile, "--pid-file", pidFile,
		"--port", busy.Addr().String(), "--", exampleBin)
	assert.Equal(t, exitError, res.code)
	assert.Equal(t, []string{"start_server: --port=" + busy.Addr().String() + ": bind: address already in use"}, res.stderrLines())
	assert.NoFileExists(t, pidFile)
	deadline := time.Now().Add(proc.ExitTimeout)
	for runningWith(t, logFile) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.False(t, runningWith(t, logFile), "no daemon left running")
}

// runningWith reports whether a process runs whose command line contains s
// (Linux: /proc; elsewhere it cannot tell and says no).
func runningWith(t *testing.T, s string) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && strings.Contains(string(b), s) {
			return true
		}
	}
	return false
}

// servedBy returns the pid (X-Pid) of the worker that answers GET / on addr.
func servedBy(t *testing.T, addr string) int {
	t.Helper()
	c := &http.Client{Timeout: proc.ReadyTimeout}
	resp, err := c.Get("http://" + addr + "/")
	require.NoError(t, err)
	resp.Body.Close()
	pid, err := strconv.Atoi(resp.Header.Get("X-Pid"))
	require.NoError(t, err)
	return pid
}

func fileContent(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}
