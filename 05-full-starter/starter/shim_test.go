package starter

import (
	"bytes"
	"os"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"hotdeploy/internal/proc"
)

func TestHandOverRoundTrip(t *testing.T) {
	argv := []string{"/bin/worker", "", "-x=1", "two words"}
	env := []string{"A=1", "EMPTY=", "NL=a\nb"}
	gotArgv, gotEnv, err := decodeHandOver(encodeHandOver(argv, env))
	require.NoError(t, err)
	assert.Equal(t, argv, gotArgv)
	assert.Equal(t, env, gotEnv)

	msg := encodeHandOver(argv, env)
	for _, bad := range [][]byte{
		msg[:len(msg)-1],              // cut short
		msg[:bytes.IndexByte(msg, 0)], // cut in the first argument
		[]byte("x y\nz\x00"),          // bad header
		[]byte("0 0\n"),               // no command
		[]byte("1 0"),                 // no header line
		append(append([]byte(nil), msg...), "extra\x00"...),
	} {
		_, _, err := decodeHandOver(bad)
		assert.Error(t, err, "%q", bad)
	}
}

// parkedShims lists the exec shims parked by the starter pid: its children
// whose argv[0] is still shimArg0.
func parkedShims(t *testing.T, starterPID int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := proc.StatFields(pid)
		if err != nil || f[0] == "Z" || f[1] != strconv.Itoa(starterPID) {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if arg0, _, _ := bytes.Cut(cmdline, []byte{0}); string(arg0) == shimArg0 {
			out = append(out, pid)
		}
	}
	return out
}

// waitParked waits until the starter has exactly one parked shim, other
// than not, and returns its pid.
func waitParked(t *testing.T, starterPID, not int) int {
	t.Helper()
	var pid int
	waitFor(t, "a parked exec shim", func() bool {
		s := parkedShims(t, starterPID)
		if len(s) == 1 && s[0] != not {
			pid = s[0]
			return true
		}
		return false
	})
	return pid
}

// gone reports whether pid has exited (reaped, or a zombie).
func gone(pid int) bool {
	f, err := proc.StatFields(pid)
	return err != nil || f[0] == "Z" || f[0] == "X"
}

func skipWithoutProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}
}

// fdsOf lists the fds of pid as "N=target".
func fdsOf(t *testing.T, pid int) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		target, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + e.Name())
		out = append(out, e.Name()+"="+target)
	}
	return out
}

// forceShim makes a starter under test start its workers through the exec
// shim, as where startWithOwnPID cannot work.
var forceShim = []string{forceShimEnv + "=1"}

// With the shim, the restart path runs no Go runtime start: a shim is parked ahead of time,
// holding only what the worker gets (and its pipe), and becomes the next
// worker, whose LISTEN_PID is its own pid, restart after restart.
func TestRealParkedShimBecomesTheWorker(t *testing.T) {
	t.Parallel()
	skipWithoutProc(t)
	p := startStarterEnv(t, Config{Ports: []string{"127.0.0.1:0"}, Command: workerCmd("-dump", "-notify"), ReadyTimeout: 30 * time.Second}, forceShim)
	addr := p.boundAddr()
	prevWorker := p.workerUp(1)
	for gen := 2; gen <= 5; gen++ {
		parked := waitParked(t, p.PID(), 0)
		// While its runtime starts, the shim may have a file open for a
		// moment (the runtime reads cgroup and /sys limits); once parked
		// it holds stdio, the socket and the pipe, nothing else.
		var fds []string
		for deadline := time.Now().Add(proc.ReadyTimeout); ; time.Sleep(10 * time.Millisecond) {
			fds = fdsOf(t, parked)
			if slices.Equal([]string{"0", "1", "2", "3", "4"}, fdNumbers(fds)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("parked shim %d holds %v, want stdio, the socket and the pipe only", parked, fds)
			}
		}
		assert.Contains(t, fds[3], "socket:")
		assert.Contains(t, fds[4], "pipe:")
		environ, err := os.ReadFile("/proc/" + strconv.Itoa(parked) + "/environ")
		require.NoError(t, err)
		assert.NotContains(t, string(environ), "SERVER_STARTER_GENERATION=", "the worker's environment comes at the hand-over")

		p.SignalT(t, syscall.SIGHUP)
		pid := p.workerUp(gen)
		assert.Equal(t, parked, pid, "generation %d runs in the parked shim", gen)
		d := p.dumpOf(pid)
		assert.Equal(t, strconv.Itoa(pid), d.env["LISTEN_PID"], "LISTEN_PID is the worker's own pid")
		assert.Equal(t, strconv.Itoa(gen), d.env["SERVER_STARTER_GENERATION"])
		assert.Equal(t, []string{"0", "1", "2", "3"}, fdNumbers(d.fds), "the pipe is closed before exec: %v", d.fds)
		_, has := d.env[shimEnv]
		assert.False(t, has, "the shim marker is gone")
		p.waitLine(`^killing old workers$`)
		p.waitLine(`^old worker %d died`, prevWorker)
		assert.Equal(t, pid, get(t, "tcp", addr))
		prevWorker = pid
	}
	p.stop()
}

// A parked shim that dies (killed by hand here) is reaped and replaced, and
// the next restart still works.
func TestRealParkedShimKilled(t *testing.T) {
	t.Parallel()
	skipWithoutProc(t)
	p := startStarterEnv(t, Config{Ports: []string{"127.0.0.1:0"}, Command: workerCmd("-dump", "-notify"), ReadyTimeout: 30 * time.Second}, forceShim)
	addr := p.boundAddr()
	pid1 := p.workerUp(1)
	parked := waitParked(t, p.PID(), 0)
	require.NoError(t, syscall.Kill(parked, syscall.SIGKILL))
	p.waitLine(`^exec shim %d \(parked for the next worker\) died, status:9 \(killed by SIGKILL\); starting another$`, parked)
	waitFor(t, "the dead shim reaped", func() bool { return gone(parked) })
	next := waitParked(t, p.PID(), parked)

	p.SignalT(t, syscall.SIGHUP)
	pid := p.workerUp(2)
	assert.Equal(t, next, pid, "the replacement became the worker")
	assert.Equal(t, strconv.Itoa(pid), p.dumpOf(pid).env["LISTEN_PID"])
	p.waitLine(`^old worker %d died`, pid1)
	assert.Equal(t, pid, get(t, "tcp", addr))
	p.stop()
}

// A parked shim goes with the starter: at TERM (promptly), and when the
// starter is killed with SIGKILL (its end of the pipe closes).
func TestRealParkedShimEnds(t *testing.T) {
	t.Parallel()
	skipWithoutProc(t)
	t.Run("TERM", func(t *testing.T) {
		t.Parallel()
		p := startStarterEnv(t, Config{Ports: []string{"127.0.0.1:0"}, Command: workerCmd("-notify"), ReadyTimeout: 30 * time.Second}, forceShim)
		pid := p.workerUp(1)
		parked := waitParked(t, p.PID(), 0)
		begin := time.Now()
		p.stop()
		t.Logf("TERM → exited in %v", time.Since(begin))
		assert.True(t, gone(parked), "parked shim %d left behind", parked)
		assert.True(t, gone(pid), "worker %d left behind", pid)
		assert.Empty(t, p.Survivors())
	})
	t.Run("SIGKILL", func(t *testing.T) {
		t.Parallel()
		p := startStarterEnv(t, Config{Ports: []string{"127.0.0.1:0"}, Command: workerCmd("-notify"), ReadyTimeout: 30 * time.Second}, forceShim)
		pid := p.workerUp(1)
		parked := waitParked(t, p.PID(), 0)
		p.SignalT(t, syscall.SIGKILL)
		p.WaitT(t)
		waitFor(t, "the parked shim to exit", func() bool { return gone(parked) })
		// The worker outlives a killed starter, as under Perl's start_server
		// (it keeps serving); only the parked shim, which is not a worker
		// yet, goes by itself.
		assert.False(t, gone(pid), "the worker keeps running")
		require.NoError(t, syscall.Kill(pid, syscall.SIGTERM))
		waitFor(t, "the worker to exit", func() bool { return gone(pid) })
		left := p.Survivors()
		assert.Empty(t, left, "processes left: %v", left)
		for _, l := range left {
			syscall.Kill(l, syscall.SIGKILL)
		}
	})
}

// The shim refuses a bad fd number, and exits quietly with status 0 at end
// of file without a message (the starter went away).
func TestRunShimEOFAndBadFD(t *testing.T) {
	code, err := runShim("1")
	assert.Equal(t, 127, code)
	assert.ErrorContains(t, err, "not a file descriptor above 2")

	// pipeWith returns the read end of a pipe holding msg, as a bare fd
	// (runShim closes it).
	pipeWith := func(msg string) string {
		r, w, err := os.Pipe()
		require.NoError(t, err)
		defer r.Close()
		_, err = w.WriteString(msg)
		require.NoError(t, err)
		w.Close()
		fd, err := syscall.Dup(int(r.Fd()))
		require.NoError(t, err)
		return strconv.Itoa(fd)
	}
	code, err = runShim(pipeWith(""))
	assert.Equal(t, 0, code)
	assert.NoError(t, err)

	code, err = runShim(pipeWith("2 0\nonly-one\x00"))
	assert.Equal(t, 127, code)
	assert.ErrorContains(t, err, "cut short")
}
