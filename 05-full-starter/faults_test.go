package main

import (
	"bytes"
	"context"
	"fmt"
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

	"hotdeploy/internal/proc"
)

// The command line under faults (issue 10): each test here failed before
// its fix.

// A log reader that exits does not kill start_server: it keeps
// supervising (HUP restarts, TERM exits 0 and removes its files), and says
// once, on the terminal it was started from, that the log output is gone.
func TestDeadLogReader(t *testing.T) {
	t.Run("--log-file=|cmd", func(t *testing.T) {
		// With a socket, workers are started through the exec shim.
		r := startStarter(t, nil, "--log-file", "| head -c 300 >/dev/null", "--port=127.0.0.1:0", "--interval=0.05", "--", "sleep", "60")
		// Each restart logs about 150 bytes: head has long exited before
		// the last ones.
		for gen := 2; gen <= 8; gen++ {
			r.p.SignalT(t, syscall.SIGHUP)
			r.waitStatus(t, func(s map[int]int) bool { return len(s) == 1 && s[gen] != 0 })
		}
		worker := mustStatus(t, r.statusFile)[8]
		waitExecd(t, worker, "sleep")
		assert.True(t, sigpipeIgnored(t, worker), "workers inherit SIGPIPE ignored, as under Perl's start_server")
		r.p.SignalT(t, syscall.SIGTERM)
		assert.Equal(t, 0, r.p.WaitT(t))
		assert.NoFileExists(t, r.pidFile)
		assert.NoFileExists(t, r.statusFile)
		out := r.p.Output()
		assert.Equal(t, 1, strings.Count(out, "log output lost"), "said once, on the terminal:\n%s", out)
		assert.Regexp(t, `(?m)^start_server \(pid:\d+\): log output lost \(.*broken pipe\); still supervising$`, out)
	})
	t.Run("2>&1 | reader that exits", func(t *testing.T) {
		dir := t.TempDir()
		pidFile, statusFile := filepath.Join(dir, "pid"), filepath.Join(dir, "status")
		rd, wr, err := os.Pipe()
		require.NoError(t, err)
		cmd := exec.Command(starterBin, "--pid-file", pidFile, "--status-file", statusFile, "--interval=0.05", "--", "sleep", "60")
		cmd.Stdout, cmd.Stderr = wr, wr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
		wr.Close()
		rd.Close() // the reader is gone: every line start_server writes now fails
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		r := &running{pidFile: pidFile, statusFile: statusFile}
		waitStatusOrExit := func(gen int) {
			t.Helper()
			deadline := time.Now().Add(proc.ReadyTimeout)
			for {
				if s, err := readStatus(statusFile); err == nil && len(s) == 1 && s[gen] != 0 {
					return
				}
				select {
				case err := <-done:
					t.Fatalf("start_server exited while waiting for generation %d: %v", gen, err)
				case <-time.After(5 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatalf("no generation %d in %s", gen, statusFile)
				}
			}
		}
		waitStatusOrExit(1)
		require.NoError(t, syscall.Kill(cmd.Process.Pid, syscall.SIGHUP))
		waitStatusOrExit(2)
		// Without a socket, workers are started directly.
		worker := mustStatus(t, statusFile)[2]
		waitExecd(t, worker, "sleep")
		assert.True(t, sigpipeIgnored(t, worker), "workers inherit SIGPIPE ignored")
		require.NoError(t, syscall.Kill(cmd.Process.Pid, syscall.SIGTERM))
		select {
		case err := <-done:
			assert.NoError(t, err, "exit status 0")
		case <-time.After(proc.ExitTimeout):
			t.Fatal("start_server did not exit after TERM")
		}
		assert.NoFileExists(t, r.pidFile)
		assert.NoFileExists(t, r.statusFile)
	})
}

// sigpipeIgnored reports whether process pid ignores SIGPIPE (its SigIgn
// mask in /proc).
func sigpipeIgnored(t *testing.T, pid int) bool {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^SigIgn:\s*([0-9a-f]+)$`).FindStringSubmatch(string(data))
	require.NotNil(t, m, "SigIgn in /proc/%d/status", pid)
	mask, err := strconv.ParseUint(m[1], 16, 64)
	require.NoError(t, err)
	return mask&(1<<(uint(syscall.SIGPIPE)-1)) != 0
}

// waitExecd waits until process pid runs comm: with --interval=0.05 on a
// loaded machine, a worker can be listed in the status file while it is
// still the exec shim (or the starter's fork) that has not exec'd yet.
func waitExecd(t *testing.T, pid int, comm string) {
	t.Helper()
	deadline := time.Now().Add(proc.ReadyTimeout)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		require.NoError(t, err)
		if strings.TrimSpace(string(b)) == comm {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d runs %q, not %s, after %v", pid, strings.TrimSpace(string(b)), comm, proc.ReadyTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// --restart waits for the server the way the server runs (here: an old
// worker that takes 33 s to stop, under --kill-timeout=90), not for a bound
// computed from --restart's own options (--kill-timeout=0.5 gave up after
// 30.6 s). Slow (about 35 s), so it runs in parallel with the rest.
func TestRestartWaitsForTheServer(t *testing.T) {
	t.Parallel()
	const worker = `trap 'if [ "$SERVER_STARTER_GENERATION" = 1 ]; then sleep 33; fi; exit 0' TERM; while :; do sleep 0.2; done`
	r := startStarter(t, nil, "--interval=0.1", "--kill-timeout=90", "--", "sh", "-c", worker)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, starterBin, "--restart", "--pid-file", r.pidFile, "--status-file", r.statusFile,
		"--kill-timeout=0.5", "--interval=0.1")
	cmd.Stdout, cmd.Stderr = &out, &out
	begin := time.Now()
	err := cmd.Run()
	took := time.Since(begin)
	require.NoError(t, err, "--restart after %v: %s", took, out.String())
	t.Logf("--restart returned 0 after %v", took)
	assert.GreaterOrEqual(t, took, 33*time.Second, "it waited for the old worker")
	s := mustStatus(t, r.statusFile)
	assert.Equal(t, []int{2}, gens(s))
	_, err = r.p.Stop(proc.ExitTimeout)
	require.NoError(t, err)
}
