//go:build linux

package starter

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"hotdeploy/internal/proc"
)

// On Linux a worker gets LISTEN_PID = its own pid with no extra process:
// no shim parked or started, the starter is its parent, it holds stdio and
// the socket only, it is not left traced, and its environment says its pid
// (padded with NULs, not zeros), restart after restart.
func TestRealOwnPIDWithoutShim(t *testing.T) {
	t.Parallel()
	skipWithoutProc(t)
	p := startStarter(t, Config{Ports: []string{"127.0.0.1:0"}, Command: workerCmd("-dump", "-notify"), ReadyTimeout: 30 * time.Second})
	addr := p.boundAddr()
	prev := 0
	for gen := 1; gen <= 4; gen++ {
		if gen > 1 {
			p.SignalT(t, syscall.SIGHUP)
		}
		pid := p.workerUp(gen)
		d := p.dumpOf(pid)
		assert.Equal(t, strconv.Itoa(pid), d.env["LISTEN_PID"], "generation %d: LISTEN_PID is the worker's own pid", gen)
		assert.Equal(t, "1", d.env["LISTEN_FDS"])
		assert.Equal(t, []string{"0", "1", "2", "3"}, fdNumbers(d.fds))
		f, err := proc.StatFields(pid)
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(p.PID()), f[1], "the starter is the worker's parent")
		status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		require.NoError(t, err)
		assert.Contains(t, string(status), "\nTracerPid:\t0\n", "the worker is not left traced")
		environ, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		require.NoError(t, err)
		assert.Contains(t, string(environ), "\x00LISTEN_PID="+strconv.Itoa(pid)+"\x00")
		assert.Empty(t, parkedShims(t, p.PID()), "no exec shim is parked")
		if prev != 0 {
			p.waitLine(`^old worker %d died`, prev)
		}
		assert.Equal(t, pid, get(t, "tcp", addr))
		prev = pid
	}
	assert.Empty(t, parkedShims(t, p.PID()), "no exec shim is parked")
	assert.NotContains(t, p.Output(), "exec shim")
	p.stop()
}

// A starter that may not trace its workers (here: it runs under strace -f,
// which traces them first, so the worker's PTRACE_TRACEME fails with
// EPERM) says so once and starts them through the exec shim: LISTEN_PID is
// still right, and restarts still work.
func TestRealOwnPIDDeniedFallsBackToShim(t *testing.T) {
	t.Parallel()
	skipWithoutProc(t)
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("needs strace (apt-get install strace)")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	pidFile := filepath.Join(t.TempDir(), "pid")
	cfg := Config{Ports: []string{"127.0.0.1:0"}, Command: workerCmd("-dump", "-notify"), ReadyTimeout: 60 * time.Second, PIDFile: pidFile}
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	cmd := exec.Command(strace, "-f", "-qq", "-o", "/dev/null", exe)
	cmd.Env = append(os.Environ(), configEnv+"="+string(b))
	sp, err := proc.StartCmd(cmd)
	require.NoError(t, err)
	proc.Track(t, sp)
	p := &starterProc{sp, t}
	p.waitLine(`^cannot trace worker \S+ to set its LISTEN_PID \(.*operation not permitted\): starting workers through the exec shim from now on$`)
	pid := p.workerUp(1)
	assert.Equal(t, strconv.Itoa(pid), p.dumpOf(pid).env["LISTEN_PID"])
	var starter int
	waitFor(t, "the pid file", func() bool {
		data, _ := os.ReadFile(pidFile)
		starter, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		return starter > 0
	})
	require.NoError(t, syscall.Kill(starter, syscall.SIGHUP))
	pid2 := p.workerUp(2)
	assert.Equal(t, strconv.Itoa(pid2), p.dumpOf(pid2).env["LISTEN_PID"])
	p.waitLine(`^old worker %d died`, pid)
	require.NoError(t, syscall.Kill(starter, syscall.SIGTERM))
	p.waitLine(`^exiting$`)
	assert.Equal(t, 0, p.WaitT(t))
	assert.Equal(t, 1, bytes.Count([]byte(p.Output()), []byte("cannot trace worker")), "said once")
}

// The LISTEN_PID slot has room for every pid this system can give.
func TestPIDWidth(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	require.NoError(t, err)
	max, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	w := pidWidth()
	assert.Equal(t, len(strconv.Itoa(max-1)), w)
	assert.Equal(t, "LISTEN_PID="+strings.Repeat("0", w), pidSlot(w))
}
