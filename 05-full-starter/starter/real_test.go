package starter

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Perl t/01: start, serve, status file before/during/after HUP, the pid
// file, --signal-on-hup (TERM and USR1), the serving pid changes.
func TestRealBasic(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGUSR1} {
		t.Run(signalName(sig), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			pidFile, statusFile := filepath.Join(dir, "pid"), filepath.Join(dir, "status")
			p := startStarter(t, Config{
				Ports: []string{"127.0.0.1:0"}, Command: workerCmd(),
				Interval: 200 * time.Millisecond, SignalOnHUP: sig,
				PIDFile: pidFile, StatusFile: statusFile,
			})
			p.waitLine(`^start_server \(pid:%d\) starting now\.\.\.$`, p.PID())
			addr := p.boundAddr()
			pid1 := p.workerUp(1)
			p.waitLine(`^new worker %d is now running$`, pid1)
			assert.Equal(t, fmt.Sprintf("%d\n", p.PID()), fileContent(pidFile))
			assert.Equal(t, fmt.Sprintf("1:%d\n", pid1), fileContent(statusFile))
			assert.Equal(t, pid1, get(t, "tcp", addr))

			p.SignalT(t, syscall.SIGHUP)
			p.waitLine(`^received HUP, spawning a new worker$`)
			pid2 := p.workerUp(2)
			p.waitLine(`^new worker is now running, sending %s to old workers:%d$`, signalName(sig), pid1)
			p.waitLine(`^worker pid=%d gen=1 received %v$`, pid1, sig)
			p.waitLine(`^old worker %d died, status:0$`, pid1) // Perl's exact text
			waitFor(t, "status file with generation 2 only", func() bool {
				return fileContent(statusFile) == fmt.Sprintf("2:%d\n", pid2)
			})
			assert.Equal(t, pid2, get(t, "tcp", addr))
			assert.NotEqual(t, pid1, pid2)

			p.stop()
			assert.Equal(t, "<none>", fileContent(pidFile), "pid file removed")
			assert.Equal(t, "<none>", fileContent(statusFile), "status file removed")
		})
	}
}

// Perl t/02: new generations fail at start while the old one keeps
// serving; a later one takes over. Also Restart, which fails fast instead
// of looping like Perl's --restart.
func TestRealFailingGenerations(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	failFlag := filepath.Join(dir, "fail")
	pidFile, statusFile := filepath.Join(dir, "pid"), filepath.Join(dir, "status")
	// READY=1 judges the workers, not --interval: a failing worker is
	// then always seen to fail by its exit, however slowly a loaded
	// machine starts it (with a 300 ms interval it was sometimes judged
	// running first).
	p := startStarter(t, Config{
		Ports: []string{"127.0.0.1:0"}, Command: workerCmd("-notify", "-fail-if-exists", failFlag),
		ReadyTimeout: 30 * time.Second, PIDFile: pidFile, StatusFile: statusFile,
	})
	addr := p.boundAddr()
	pid1 := p.workerUp(1)
	p.waitLine(`^new worker %d is now running$`, pid1)

	require.NoError(t, os.WriteFile(failFlag, nil, 0o644))
	begin := time.Now()
	err := Restart(pidFile, statusFile, 30*time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "new worker (generation 2) failed to start: exit status:256 (exit code 1)")
	t.Logf("Restart reported the failure after %v", time.Since(begin))
	p.waitLine(`^new worker (\d+) seems to have failed to start, exit status:256$`)
	p.waitLine(`^worker \d+: exit code 1$`)
	p.waitLine(`^retrying in 1s`)
	p.waitLine(`^new worker \d+ seems to have failed to start`) // generation 3, after the backoff
	assert.Equal(t, pid1, get(t, "tcp", addr), "the old generation keeps serving")
	assert.Equal(t, fmt.Sprintf("1:%d\n", pid1), fileContent(statusFile))

	require.NoError(t, os.Remove(failFlag))
	require.NoError(t, Restart(pidFile, statusFile, 30*time.Second))
	st, err := readStatusFile(statusFile)
	require.NoError(t, err)
	require.Len(t, st, 1)
	assert.GreaterOrEqual(t, st[0].gen, 4, "failed attempts count as generations")
	assert.Equal(t, st[0].pid, get(t, "tcp", addr))
	p.stop()
}

// Perl t/03: a unix socket serves, is not world-writable, is removed at
// shutdown; a regular file at --path is refused and kept.
func TestRealUnixSocket(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "s.sock")
	p := startStarter(t, Config{Paths: []string{path}, Command: workerCmd(), Interval: 100 * time.Millisecond})
	assert.Equal(t, path, p.boundAddr())
	pid := p.workerUp(1)
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	assert.Equal(t, pid, get(t, "unix", path))
	p.stop()
	_, err = os.Lstat(path)
	assert.ErrorIs(t, err, os.ErrNotExist, "socket removed at exit")

	require.NoError(t, os.WriteFile(path, []byte("data"), 0o644))
	p = startStarter(t, Config{Paths: []string{path}, Command: workerCmd()})
	p.waitLine(`^start_server: path %s: exists and is a regular file, not a socket`, path)
	assert.Equal(t, 1, p.WaitT(t))
	assert.Equal(t, "data", fileContent(path), "the regular file is untouched")
	assert.NotContains(t, p.Output(), "starting new worker")
}

// Perl t/04: --dir.
func TestRealDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startStarter(t, Config{Command: workerCmd("-dump"), Dir: dir, Interval: 100 * time.Millisecond})
	m := p.waitLine(`^starting new worker (\d+)$`)
	pid, _ := strconv.Atoi(m[1])
	d := p.dumpOf(pid)
	want, _ := filepath.EvalSymlinks(dir)
	assert.Equal(t, want, d.cwd)
	p.stop()
}

// Perl t/05: --kill-old-delay, seen through the status file.
func TestRealKillOldDelay(t *testing.T) {
	t.Parallel()
	statusFile := filepath.Join(t.TempDir(), "status")
	p := startStarter(t, Config{
		Ports: []string{"127.0.0.1:0"}, Command: workerCmd("-notify"),
		Interval: 5 * time.Second, KillOldDelay: time.Second, StatusFile: statusFile,
	})
	pid1 := p.workerUp(1)
	p.waitLine(`^new worker %d is now running$`, pid1)
	p.SignalT(t, syscall.SIGHUP)
	pid2 := p.workerUp(2)
	p.waitLine(`^new worker is now running`)
	both := time.Now()
	assert.Equal(t, fmt.Sprintf("1:%d\n2:%d\n", pid1, pid2), fileContent(statusFile))
	p.waitLine(`^sleeping 1 secs before killing old workers$`)
	p.waitLine(`^killing old workers$`)
	p.waitLine(`^old worker %d died`, pid1)
	waitFor(t, "status file with generation 2 only", func() bool {
		return fileContent(statusFile) == fmt.Sprintf("2:%d\n", pid2)
	})
	took := time.Since(both)
	t.Logf("both generations listed for %v (kill-old-delay 1s)", took)
	assert.GreaterOrEqual(t, took, 900*time.Millisecond)
	p.stop()
}

// Perl t/06: auto-restart.
func TestRealAutoRestart(t *testing.T) {
	t.Parallel()
	p := startStarter(t, Config{
		Ports: []string{"127.0.0.1:0"}, Command: workerCmd("-notify"), Interval: 5 * time.Second,
		AutoRestart: true, AutoRestartInterval: time.Second, KillOldDelay: 100 * time.Millisecond,
	})
	addr := p.boundAddr()
	pid1 := p.workerUp(1)
	p.waitLine(`^autorestart triggered \(interval=1\)$`)
	pid2 := p.workerUp(2)
	p.waitLine(`^new worker is now running, sending TERM to old workers:%d$`, pid1)
	p.waitLine(`^sleeping 0.1 secs before killing old workers$`)
	p.waitLine(`^old worker %d died`, pid1)
	assert.Equal(t, pid2, get(t, "tcp", addr))
	p.stop()
}

// Perl t/07: envdir — a variable added, changed and removed across HUPs.
func TestRealEnvDir(t *testing.T) {
	t.Parallel()
	envdir := t.TempDir()
	set := func(k, v string) { require.NoError(t, os.WriteFile(filepath.Join(envdir, k), []byte(v+"\n"), 0o644)) }
	set("FOO", "one")
	p := startStarter(t, Config{Command: workerCmd("-dump", "-notify"), EnvDir: envdir, Interval: 5 * time.Second})
	next := func() dump {
		m := p.waitLine(`^starting new worker (\d+)$`)
		pid, _ := strconv.Atoi(m[1])
		p.waitLine(`is now running`)
		return p.dumpOf(pid)
	}
	d := next()
	assert.Equal(t, "one", d.env["FOO"])
	_, has := d.env["BAR"]
	assert.False(t, has)

	set("FOO", "two")
	set("BAR", "added")
	p.SignalT(t, syscall.SIGHUP)
	d = next()
	assert.Equal(t, "two", d.env["FOO"])
	assert.Equal(t, "added", d.env["BAR"])

	require.NoError(t, os.Remove(filepath.Join(envdir, "FOO")))
	p.SignalT(t, syscall.SIGHUP)
	d = next()
	_, has = d.env["FOO"]
	assert.False(t, has, "a removed file unsets the variable")
	assert.Equal(t, "added", d.env["BAR"])
	p.stop()
}

// Perl t/08: waiting for the workers at shutdown is not broken by more
// signals; nothing new starts.
func TestRealSignalsWhileWaiting(t *testing.T) {
	t.Parallel()
	p := startStarter(t, Config{
		Ports: []string{"127.0.0.1:0"}, Command: workerCmd("-term-delay", "1s"), Interval: 100 * time.Millisecond,
	})
	pid := p.workerUp(1)
	p.waitLine(`is now running`)
	p.SignalT(t, syscall.SIGTERM)
	p.waitLine(`^received TERM, sending TERM to all workers:%d$`, pid)
	p.waitLine(`^worker pid=%d gen=1 received terminated$`, pid)
	p.SignalT(t, syscall.SIGHUP)
	p.SignalT(t, syscall.SIGINT)
	p.SignalT(t, syscall.SIGTERM)
	p.waitLine(`^worker %d died, status:0`, pid)
	p.waitLine(`^exiting$`)
	assert.Equal(t, 0, p.WaitT(t))
	assert.Equal(t, 1, strings.Count(p.Output(), "starting new worker"))
	assert.Contains(t, p.Output(), "received HUP while shutting down, ignored")
}

// Perl t/10: the same port on 127.0.0.1 and ::1 are separate sockets, each
// serving its own workers.
func TestRealIPv4IPv6Isolation(t *testing.T) {
	t.Parallel()
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skip("no IPv6 loopback:", err)
	} else {
		ln.Close()
	}
	p4 := startStarter(t, Config{Ports: []string{"127.0.0.1:0"}, Command: workerCmd(), Interval: 100 * time.Millisecond})
	addr4 := p4.boundAddr()
	pid4 := p4.workerUp(1)
	_, port, _ := net.SplitHostPort(addr4)
	p6 := startStarter(t, Config{Ports: []string{"[::1]:" + port}, Command: workerCmd(), Interval: 100 * time.Millisecond})
	assert.Equal(t, "[::1]:"+port, p6.boundAddr())
	pid6 := p6.workerUp(1)
	assert.Equal(t, pid4, get(t, "tcp", addr4))
	assert.Equal(t, pid6, get(t, "tcp", "[::1]:"+port))
	p6.stop()
	_, err := net.DialTimeout("tcp", "[::1]:"+port, time.Second)
	assert.Error(t, err, "::1 closed with its starter")
	assert.Equal(t, pid4, get(t, "tcp", addr4), "127.0.0.1 unaffected")
	p4.stop()
}

// Perl t/11 (=FD), t/14 (no port: set and empty), the stray-fd leak Perl
// has, and LISTEN_PID/LISTEN_FDS.
func TestRealWorkerEnvAndFDs(t *testing.T) {
	t.Parallel()
	t.Run("=FD", func(t *testing.T) {
		t.Parallel()
		p := startStarter(t, Config{Ports: []string{"127.0.0.1:0=5", "127.0.0.1:0"}, Command: workerCmd("-dump"), Interval: 100 * time.Millisecond})
		p.waitLine(`^socket is duplicated to file descriptor 5$`)
		a5, a3 := p.boundAddr(), p.boundAddr()
		m := p.waitLine(`^starting new worker (\d+)$`)
		pid, _ := strconv.Atoi(m[1])
		d := p.dumpOf(pid)
		assert.Equal(t, "127.0.0.1:0=5;127.0.0.1:0=3", d.env["SERVER_STARTER_PORT"])
		assert.Equal(t, "1", d.env["SERVER_STARTER_GENERATION"])
		assert.Equal(t, []string{"0", "1", "2", "3", "5"}, fdNumbers(d.fds))
		_, has := d.env["LISTEN_FDS"]
		assert.False(t, has, "fds 3 and 5: not consecutive, no LISTEN_FDS")
		p.workerUp(1)
		assert.Equal(t, pid, get(t, "tcp", a5))
		assert.Equal(t, pid, get(t, "tcp", a3))
		p.stop()
	})
	t.Run("no port", func(t *testing.T) {
		t.Parallel()
		p := startStarter(t, Config{Command: workerCmd("-dump"), Interval: 100 * time.Millisecond})
		m := p.waitLine(`^starting new worker (\d+)$`)
		pid, _ := strconv.Atoi(m[1])
		d := p.dumpOf(pid)
		v, has := d.env["SERVER_STARTER_PORT"]
		assert.True(t, has, "set")
		assert.Equal(t, "", v, "and empty")
		_, has = d.env["LISTEN_FDS"]
		assert.False(t, has)
		p.stop()
	})
	// Names a shell would drop or mangle (dash drops "X.Y" and "a-b"),
	// values with '=', spaces, UTF-8, empty: a worker gets them as the
	// starter has them, started directly or through the exec shim.
	odd := []string{"X.Y=dotted", "a-b=dash", "SP ACE=1", "EQ=a=b", "EMPTY=", "UTF8=日本語"}
	t.Run("no stray fd, env byte-exact, no LISTEN_*", func(t *testing.T) {
		t.Parallel()
		// The starter's parent leaks a pipe to it on fd 3 (no close-on-exec).
		r, w, err := os.Pipe()
		require.NoError(t, err)
		defer r.Close()
		defer w.Close()
		p := startStarterEnv(t, Config{Ports: []string{"127.0.0.1:0"}, Command: workerCmd("-dump"), Interval: 100 * time.Millisecond}, odd, w)
		m := p.waitLine(`^starting new worker (\d+)$`)
		pid, _ := strconv.Atoi(m[1])
		d := p.dumpOf(pid)
		require.Equal(t, []string{"0", "1", "2", "3"}, fdNumbers(d.fds), "only stdio and the socket: %v", d.fds)
		assert.Contains(t, d.fds[3], "socket:", "fd 3 is the socket, not the leaked pipe")
		assert.Equal(t, "127.0.0.1:0=3", d.env["SERVER_STARTER_PORT"])
		assert.NotEmpty(t, d.env["NOTIFY_SOCKET"])
		for _, kv := range odd {
			k, v, _ := strings.Cut(kv, "=")
			assert.Contains(t, d.env, k, "%q reaches the worker", kv)
			assert.Equal(t, v, d.env[k], "%q reaches the worker unchanged", kv)
		}
		for _, k := range []string{"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"} {
			assert.NotContains(t, d.env, k, "without --listen-fds")
		}
		p.stop()
	})
	t.Run("--listen-fds: LISTEN_PID is each worker's own pid", func(t *testing.T) {
		t.Parallel()
		p := startStarterEnv(t, Config{Ports: []string{"127.0.0.1:0"}, Command: workerCmd("-dump"), Interval: 100 * time.Millisecond, ListenFDs: true}, odd)
		addr := p.boundAddr()
		for gen := 1; gen <= 4; gen++ {
			if gen > 1 {
				p.SignalT(t, syscall.SIGHUP)
			}
			started, _ := strconv.Atoi(p.waitLine(`^starting new worker (\d+)$`)[1])
			pid := p.workerUp(gen)
			assert.Equal(t, started, pid, "the process the starter started is the worker (the shim exec'd it)")
			d := p.dumpOf(pid)
			assert.Equal(t, strconv.Itoa(pid), d.env["LISTEN_PID"], "generation %d: LISTEN_PID is the worker's own pid", gen)
			assert.Equal(t, "1", d.env["LISTEN_FDS"])
			assert.Equal(t, "127.0.0.1_0", d.env["LISTEN_FDNAMES"])
			assert.Equal(t, []string{"0", "1", "2", "3"}, fdNumbers(d.fds), "generation %d: %v", gen, d.fds)
			for _, kv := range odd {
				k, v, _ := strings.Cut(kv, "=")
				assert.Equal(t, v, d.env[k], "%q reaches the worker through the shim unchanged", kv)
			}
			if gen == 1 {
				assert.Equal(t, pid, get(t, "tcp", addr), "it serves on the socket it found through LISTEN_FDS")
			}
		}
		p.stop()
	})
}

func fdNumbers(fds []string) []string {
	var out []string
	for _, f := range fds {
		n, _, _ := strings.Cut(f, "=")
		out = append(out, n)
	}
	return out
}

// Perl t/15: UDP.
func TestRealUDP(t *testing.T) {
	t.Parallel()
	p := startStarter(t, Config{Ports: []string{"127.0.0.1:u0"}, Command: workerCmd("-dump"), Interval: 100 * time.Millisecond})
	addr := p.boundAddr()
	m := p.waitLine(`^starting new worker (\d+)$`)
	pid, _ := strconv.Atoi(m[1])
	assert.Equal(t, "127.0.0.1:0=3", p.dumpOf(pid).env["SERVER_STARTER_PORT"], "Perl drops the u from the key")
	p.workerUp(1)
	c, err := net.Dial("udp", addr)
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = c.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 100)
	n, err := c.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("pid=%d gen=1 got=ping", pid), string(buf[:n]))
	p.stop()
}

// KillTimeout: an old worker that ignores its signal is SIGKILLed.
func TestRealKillTimeout(t *testing.T) {
	t.Parallel()
	p := startStarter(t, Config{
		Ports: []string{"127.0.0.1:0"}, Command: workerCmd("-ignore-term", "-notify"),
		Interval: 5 * time.Second, KillTimeout: 300 * time.Millisecond,
	})
	pid1 := p.workerUp(1)
	p.waitLine(`is now running`)
	p.SignalT(t, syscall.SIGHUP)
	p.workerUp(2)
	p.waitLine(`^worker %d did not exit within 300ms of SIGTERM, sending SIGKILL$`, pid1)
	p.waitLine(`^old worker %d died, status:9$`, pid1)
	p.waitLine(`^worker %d: killed by SIGKILL$`, pid1)
	p.SignalT(t, syscall.SIGTERM)
	p.waitLine(`sending SIGKILL`)
	p.waitLine(`^exiting$`)
	assert.Equal(t, 0, p.WaitT(t))
}

// Perl t/12 equivalent for the library: Stop ends the server and its pid
// file; a second instance on a held pid file fails clearly.
func TestRealStopAndPIDFileLock(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	p := startStarter(t, Config{Command: workerCmd(), PIDFile: pidFile, Interval: 100 * time.Millisecond})
	p.waitLine(`is now running`)

	second := startStarter(t, Config{Command: workerCmd(), PIDFile: pidFile})
	second.waitLine(`^start_server: pid file %s: is locked: another start_server \(pid %d\) is running$`, pidFile, p.PID())
	assert.Equal(t, 1, second.WaitT(t))
	assert.Equal(t, fmt.Sprintf("%d\n", p.PID()), fileContent(pidFile), "the running server's pid file is intact")

	require.NoError(t, Stop(pidFile, 30*time.Second))
	assert.Equal(t, "<none>", fileContent(pidFile))
	assert.Equal(t, 0, p.WaitT(t))
	assert.Contains(t, p.Output(), "exiting")
	assert.ErrorContains(t, Stop(pidFile, time.Second), "no running start_server")
}

// Bad input: one clear error, nothing started.
func TestRealBadConfig(t *testing.T) {
	t.Parallel()
	p := startStarter(t, Config{Ports: []string{"127.0.0.1:80x"}, Command: workerCmd()})
	p.waitLine(`^start_server: port 127.0.0.1:80x: port "80x" is not a number`)
	assert.Equal(t, 1, p.WaitT(t))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	p = startStarter(t, Config{Ports: []string{ln.Addr().String()}, Command: workerCmd()})
	p.waitLine(`^start_server: port %s: bind: address already in use$`, ln.Addr().String())
	assert.Equal(t, 1, p.WaitT(t))
	assert.NotContains(t, p.Output(), "starting new worker")
}

// A new generation that says READY=1 and dies 200ms later is a failed
// start: during its probation the old generation is not signalled, stays
// current and keeps serving; Restart reports the failure. The next good
// generation takes over after its probation.
func TestRealProbation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	crash := filepath.Join(dir, "crash")
	pidFile, statusFile := filepath.Join(dir, "pid"), filepath.Join(dir, "status")
	p := startStarter(t, Config{
		Ports: []string{"127.0.0.1:0"}, Command: workerCmd("-notify", "-crash-if-exists", crash),
		Interval: 10 * time.Second, PIDFile: pidFile, StatusFile: statusFile,
	})
	addr := p.boundAddr()
	pid1 := p.workerUp(1)
	p.waitLine(`^new worker %d is now running$`, pid1)

	require.NoError(t, os.WriteFile(crash, nil, 0o644))
	err := Restart(pidFile, statusFile, 30*time.Second)
	require.Error(t, err, "the restart failed: generation 2 died during its probation")
	assert.Contains(t, err.Error(), "new worker (generation 2) failed to start")
	m := p.waitLine(`^new worker (\d+) is ready \(READY=1 after \S+\); the old generation is signalled after a probation of 1s$`)
	p.waitLine(`^new worker %s died \S+ after READY=1, during its probation$`, m[1])
	p.waitLine(`^new worker %s seems to have failed to start, exit status:768\b`, m[1])
	assert.NotContains(t, p.Output(), fmt.Sprintf("worker pid=%d gen=1 received", pid1), "the old worker was not signalled")
	assert.Equal(t, fmt.Sprintf("1:%d\n", pid1), fileContent(statusFile))
	waitFor(t, "a response from the old generation", func() bool { return tryGet(addr) == pid1 })

	require.NoError(t, os.Remove(crash))
	require.NoError(t, Restart(pidFile, statusFile, 30*time.Second))
	s, err := readStatusFile(statusFile)
	require.NoError(t, err)
	require.Len(t, s, 1)
	assert.Greater(t, s[0].gen, 2)
	assert.Equal(t, s[0].pid, get(t, "tcp", addr))
	p.waitLine(`^old worker %d died, status:0$`, pid1)
	p.stop()
}

// What the probation costs (the numbers in the README come from this
// test's log): HUP → the new generation answers stays at milliseconds,
// because a new worker serves from its READY=1 on; only HUP → old worker
// signalled, the overlap of the two generations, grows by the probation.
func TestRealProbationCost(t *testing.T) {
	for _, tc := range []struct {
		name      string
		probation time.Duration // Config.Probation
		want      time.Duration // the probation in force
	}{{"default", 0, DefaultProbation}, {"none", -1, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			p := startStarter(t, Config{
				Ports: []string{"127.0.0.1:0"}, Command: workerCmd("-notify"),
				Interval: 10 * time.Second, Probation: tc.probation,
			})
			addr := p.boundAddr()
			old := p.workerUp(1)
			p.waitLine(`^new worker %d is now running$`, old)
			var serving, signalled []time.Duration
			for range 5 {
				begin := time.Now()
				p.SignalT(t, syscall.SIGHUP)
				var pid int
				waitFor(t, "an answer from the new generation", func() bool {
					pid = tryGet(addr)
					return pid != 0 && pid != old
				})
				serving = append(serving, time.Since(begin))
				p.waitLine(`^killing old workers$`)
				signalled = append(signalled, time.Since(begin))
				p.waitLine(`^old worker %d died`, old)
				old = pid
			}
			t.Logf("probation %v: HUP → new generation serving %v; HUP → old worker signalled %v", tc.want, serving, signalled)
			for i := range serving {
				assert.GreaterOrEqual(t, signalled[i], tc.want, "the old generation is signalled only after the probation")
				if tc.want > 0 {
					assert.Less(t, serving[i], signalled[i], "the new generation serves before the old one is signalled")
				}
			}
			p.stop()
		})
	}
}
