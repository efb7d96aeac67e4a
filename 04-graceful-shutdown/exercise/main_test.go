//go:build exercise

// The exercise's test. It is behind the build tag "exercise" so that the
// template, which fails it until you fill in the TODO, stays out of
// `go test ./...`. Run it with
//
//	go test -tags exercise ./04-graceful-shutdown/exercise/          # your code (main.go here)
//	go test -tags exercise ./04-graceful-shutdown/exercise/ -answer  # the answer (../main.go)
//
// Every failure says what to check; HINTS.md has the steps.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"hotdeploy/internal/load"
	"hotdeploy/internal/proc"
)

var bin string

func TestMain(m *testing.M) { proc.RunExercise(m, &bin) }

// startMaster starts the master on an OS-chosen port and waits until its
// first worker serves. It returns the master, the address and the worker's
// PID. If the test fails, the master and its workers are killed at the end
// (a worker stuck in its drain would otherwise hold the cleanup's SIGTERM
// for seconds).
func startMaster(t *testing.T, args ...string) (*proc.Process, string, int) {
	t.Helper()
	p := proc.StartT(t, bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	t.Cleanup(func() {
		if t.Failed() {
			p.Kill()
		}
	})
	addr := p.WaitLineT(t, `listening on (\S+) pid=\d+`)[1]
	pid, _ := strconv.Atoi(p.WaitLineT(t, `worker pid=(\d+) generation=1 serving`)[1])
	return p, addr, pid
}

// exited waits for the master's line saying that worker pid of generation
// gen exited, and returns how ("exit status 0", "signal: killed", ...).
func exited(t *testing.T, p *proc.Process, pid, gen int, timeout time.Duration) (string, error) {
	t.Helper()
	m, err := p.WaitMatches(regexp.MustCompile(fmt.Sprintf(`worker pid=%d generation=%d exited: (.*)`, pid, gen)), 1, timeout)
	if err != nil {
		return "", err
	}
	return m[0][1], nil
}

// promptly is how long an old worker may take to exit once its last
// connection has ended. It takes milliseconds; the drain timeouts below are
// 20 s, so a worker that waits for a fixed share of the timeout instead of
// for its connections (10 s) is far over it, even on a loaded machine.
const promptly = 5 * time.Second

// TestRequestInFlightCompletes: a request the old worker is answering when
// SIGHUP arrives finishes, with 200, from the old worker, which then exits
// 0 — promptly, once that request is done, not after some fixed share of
// -drain-timeout. A second SIGHUP finds the next worker with no connection
// at all: it must exit at once.
func TestRequestInFlightCompletes(t *testing.T) {
	p, addr, worker := startMaster(t, "-drain-timeout", "20s")
	slow, err := load.BeginSlow(addr, "/slow?ms=1500", 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, worker, slow.PID)

	p.SignalT(t, syscall.SIGHUP)
	next, _ := strconv.Atoi(p.WaitLineT(t, `worker pid=(\d+) generation=2 serving`)[1])
	rest, err := slow.Finish(10 * time.Second)
	require.NoError(t, err, "the request in flight was cut. Check that drain waits for open connections "+
		"before it calls Shutdown or Close, and that main calls drain after Serve returns")
	done := time.Now()
	assert.Equal(t, 200, slow.Status())
	assert.Contains(t, rest, "pid "+strconv.Itoa(worker), "the slow request's answer is not complete. Check "+
		"that drain waits for active connections before it closes anything")
	how, err := exited(t, p, worker, 1, promptly)
	require.NoError(t, err, "the old worker did not exit within %v after its last request ended (drain-timeout "+
		"20s). Check that drain waits for its connections to end (d.emptyC is closed when the last one "+
		"closes), not for a fixed time such as timeout/2", promptly)
	assert.Equal(t, "exit status 0", how, "how the old worker ended. Check that drain returns (and main "+
		"exits) once the connections are gone")
	t.Logf("the old worker exited %v after its last request ended", time.Since(done).Round(time.Millisecond))

	start := time.Now()
	p.SignalT(t, syscall.SIGHUP)
	how, err = exited(t, p, next, 2, promptly)
	require.NoError(t, err, "a worker with no open connection did not exit within %v of SIGHUP. Check that "+
		"drain, after setting d.draining, calls d.checkEmptyLocked (with no connection, nothing else would "+
		"close d.emptyC)", promptly)
	assert.Equal(t, "exit status 0", how, "how the second worker ended. Check that drain returns (and main "+
		"exits) when there was no connection at all")
	t.Logf("an idle worker exited %v after SIGHUP", time.Since(start).Round(time.Millisecond))
}

// TestRequestOverTheDrainTimeoutIsCut: a request longer than
// -drain-timeout is cut by the old worker itself when the timeout is over
// (Shutdown gives up, Close cuts it), which then exits 0 — not waited for
// until the master's SIGKILL (-drain-timeout plus 2 s).
func TestRequestOverTheDrainTimeoutIsCut(t *testing.T) {
	p, addr, worker := startMaster(t, "-drain-timeout", "2s")
	slow, err := load.BeginSlow(addr, "/slow?ms=15000", 20*time.Second)
	require.NoError(t, err)
	require.Equal(t, worker, slow.PID)

	start := time.Now()
	p.SignalT(t, syscall.SIGHUP)
	how, err := exited(t, p, worker, 1, proc.ExitTimeout)
	require.NoError(t, err)
	took := time.Since(start).Round(time.Millisecond)
	assert.Equal(t, "exit status 0", how, "after %v the master killed the old worker: with a request longer "+
		"than -drain-timeout 2s, the worker must end it itself. Check that drain passes ctx (which ends at the "+
		"drain timeout) to d.srv.Shutdown, and calls d.srv.Close when Shutdown gives up", took)
	_, err = slow.Finish(5 * time.Second)
	assert.Error(t, err, "the 15 s request cannot have completed within the 2 s drain")
	t.Logf("the old worker exited %v after SIGHUP", took)
}

// TestIdleKeepAliveClientDoesNotHoldTheDrain: a keep-alive client that made
// a request and then sends nothing (a browser tab, a load balancer's pool of
// connections) keeps its connection to the old worker open. "Connection:
// close" never reaches it, because it sends no request to answer. The old
// worker must not wait for it forever: after half of -drain-timeout,
// Shutdown closes idle connections, and the worker exits 0 by itself —
// not SIGKILLed by the master (-drain-timeout plus 2 s).
func TestIdleKeepAliveClientDoesNotHoldTheDrain(t *testing.T) {
	p, addr, worker := startMaster(t, "-drain-timeout", "4s")
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	br := bufio.NewReader(conn)
	_, err = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: "+addr+"\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, strconv.Itoa(worker), resp.Header.Get("X-Pid"))
	// The connection stays open and idle from here on.

	start := time.Now()
	p.SignalT(t, syscall.SIGHUP)
	how, err := exited(t, p, worker, 1, proc.ExitTimeout)
	require.NoError(t, err)
	took := time.Since(start).Round(time.Millisecond)
	require.Equal(t, "exit status 0", how, "the old worker did not exit by itself within -drain-timeout 4s: "+
		"after %v the master killed it. An idle keep-alive connection never ends by itself, so d.emptyC is "+
		"never closed. Check that drain waits for d.emptyC or timeout/2, whichever comes first, and then "+
		"calls d.srv.Shutdown(ctx), which closes idle connections", took)
	t.Logf("the old worker exited %v after SIGHUP", took)
	assert.Less(t, took, 3*time.Second, "the old worker exited %v after SIGHUP, with -drain-timeout 4s: an idle "+
		"keep-alive connection must be closed after timeout/2 (2 s), not after the whole timeout. Check the "+
		"time.After in drain", took)
	_, err = br.ReadByte()
	assert.ErrorIs(t, err, io.EOF, "the idle connection is still open after the worker exited. Check that "+
		"drain calls d.srv.Shutdown, which closes idle connections")
}

// TestKeepAliveRestartsLoseNothing: 20 keep-alive clients, two restarts: no
// client sees an error of any class. Each keep-alive connection to the old
// worker must end cleanly: the client gets "Connection: close" on a
// response and reconnects, instead of having the connection closed under
// it.
func TestKeepAliveRestartsLoseNothing(t *testing.T) {
	p, addr, _ := startMaster(t)
	run, err := load.Start(load.Config{Addr: addr, Clients: 20, MaxRequests: 1000000,
		MaxDuration: 60 * time.Second, KeepAlive: true, Timeout: 10 * time.Second})
	require.NoError(t, err)
	defer run.Stop()
	require.True(t, run.WaitFor(func(r load.Report) bool { return r.ByGen[1] >= 200 }, 30*time.Second), "generation 1 did not serve")
	for gen := 2; gen <= 3; gen++ {
		p.SignalT(t, syscall.SIGHUP)
		require.True(t, run.WaitFor(func(r load.Report) bool { return r.ByGen[gen] >= 200 }, 30*time.Second),
			"generation %d did not serve", gen)
		p.WaitLineT(t, fmt.Sprintf(`worker pid=\d+ generation=%d exited: exit status 0`, gen-1))
	}
	rep := run.Stop()
	t.Logf("%v", rep)
	assert.Zero(t, rep.Failed(), "errors: %v. eof or reset: connections to the old worker were closed under "+
		"their clients. Check the order in drain: first set d.draining (under d.mu), so that every response "+
		"says \"Connection: close\" and busy clients leave by themselves; then wait for the connections to "+
		"end; only then Shutdown. Shutdown at once closes every connection between two requests", rep.Errors)
}
