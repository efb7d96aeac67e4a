package main

import (
	"fmt"
	"os"
	"runtime"
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

func TestMain(m *testing.M) {
	var cleanup func()
	bin, cleanup = proc.BuildMain(".")
	code := m.Run()
	cleanup()
	os.Exit(code)
}

const (
	listening = `listening on (\S+) pid=(\d+)`
	serving   = `worker pid=(\d+) generation=(\d+) serving`
)

// startMaster starts the master on an OS-chosen port and waits until its
// first worker serves. It returns the master, the address and the worker's
// PID.
func startMaster(t *testing.T, args ...string) (*proc.Process, string, int) {
	t.Helper()
	p := proc.StartT(t, bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	addr := p.WaitLineT(t, listening)[1]
	w := p.WaitLineT(t, serving)
	require.Equal(t, "1", w[2])
	pid, _ := strconv.Atoi(w[1])
	return p, addr, pid
}

// TestOneSocketInMasterAndWorkers: the master and its worker hold the same
// listening socket (same inode); during a restart, so does the new worker.
func TestOneSocketInMasterAndWorkers(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	p, addr, worker := startMaster(t)
	inode, err := proc.ListenInode(addr)
	require.NoError(t, err)
	for _, pid := range []int{p.PID(), worker} {
		fds, err := proc.FDsOf(pid, inode)
		require.NoError(t, err)
		assert.Len(t, fds, 1, "pid %d holds the socket once", pid)
	}

	p.SignalT(t, syscall.SIGHUP)
	m := p.WaitLineT(t, `worker pid=(\d+) generation=2 serving`)
	next, _ := strconv.Atoi(m[1])
	fds, err := proc.FDsOf(next, inode)
	require.NoError(t, err)
	assert.Len(t, fds, 1, "the new worker holds the same socket")
	p.SignalT(t, syscall.SIGTERM)
	assert.Equal(t, 0, p.WaitT(t))
}

// TestRequestInFlightCompletes: a request the old worker is answering when
// SIGHUP arrives finishes, with 200, from the old worker.
func TestRequestInFlightCompletes(t *testing.T) {
	p, addr, worker := startMaster(t)
	slow, err := load.BeginSlow(addr, "/slow?ms=1500", 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, worker, slow.PID)

	p.SignalT(t, syscall.SIGHUP)
	p.WaitLineT(t, fmt.Sprintf(`\[pid %d\] .*draining 1 open connections`, worker))
	rest, err := slow.Finish(10 * time.Second)
	require.NoError(t, err, "the request in flight was cut")
	assert.Equal(t, 200, slow.Status())
	assert.Contains(t, rest, "pid "+strconv.Itoa(worker))
	p.WaitLineT(t, fmt.Sprintf(`worker pid=%d generation=1 exited: exit status 0`, worker))
}

// TestRestartsUnderLoadLoseNothing: 50 concurrent clients, five restarts in
// a row, keep-alive off and on: no client sees an error of any class, and
// every generation answers.
func TestRestartsUnderLoadLoseNothing(t *testing.T) {
	const restarts = 5
	for _, keepAlive := range []bool{false, true} {
		t.Run(map[bool]string{false: "close", true: "keepalive"}[keepAlive], func(t *testing.T) {
			p, addr, _ := startMaster(t)
			run, err := load.Start(load.Config{Addr: addr, Clients: 50, MaxRequests: 1000000,
				MaxDuration: 120 * time.Second, KeepAlive: keepAlive, Timeout: 10 * time.Second})
			require.NoError(t, err)
			defer run.Stop()
			require.True(t, run.WaitFor(func(r load.Report) bool { return r.ByGen[1] >= 200 }, 30*time.Second), "generation 1 did not serve")

			for gen := 2; gen <= restarts+1; gen++ {
				p.SignalT(t, syscall.SIGHUP)
				require.True(t, run.WaitFor(func(r load.Report) bool { return r.ByGen[gen] >= 200 }, 30*time.Second),
					"generation %d did not serve", gen)
				// The old worker drained and exited by itself (not killed).
				p.WaitLineT(t, fmt.Sprintf(`worker pid=\d+ generation=%d exited: exit status 0`, gen-1))
			}
			rep := run.Stop()
			t.Logf("keep-alive=%v, %d restarts\n%v", keepAlive, restarts, rep)

			assert.Zero(t, rep.Failed(), "errors: %v", rep.Errors)
			for gen := 1; gen <= restarts+1; gen++ {
				assert.Positive(t, rep.ByGen[gen], "generation %d served", gen)
			}
		})
	}
}

// TestStuckWorkerIsKilled: a worker that does not react to SIGTERM is
// SIGKILLed by the master after the deadline, and the master says so. The
// test stops the worker with SIGSTOP: a stopped process cannot act on
// SIGTERM (it stays pending), but SIGKILL still ends it.
func TestStuckWorkerIsKilled(t *testing.T) {
	p, _, worker := startMaster(t, "-drain-timeout", "1s")
	require.NoError(t, syscall.Kill(worker, syscall.SIGSTOP))

	start := time.Now()
	p.SignalT(t, syscall.SIGHUP)
	p.WaitLineT(t, `worker pid=\d+ generation=2 serving`)
	p.WaitLineT(t, fmt.Sprintf(`worker pid=%d generation=1 still running 3s after SIGTERM, sending SIGKILL`, worker))
	p.WaitLineT(t, fmt.Sprintf(`worker pid=%d generation=1 exited: signal: killed`, worker))
	assert.GreaterOrEqual(t, time.Since(start), 3*time.Second, "killed before the deadline")
}

// TestWorkerDeathIsLogged: a worker that dies by itself is reaped and
// reported; SIGHUP brings a new one.
func TestWorkerDeathIsLogged(t *testing.T) {
	p, _, worker := startMaster(t)
	require.NoError(t, syscall.Kill(worker, syscall.SIGKILL))
	p.WaitLineT(t, `worker pid=`+strconv.Itoa(worker)+` generation=1 exited: signal: killed`)
	p.WaitLineT(t, `the current worker died by itself`)

	p.SignalT(t, syscall.SIGHUP)
	p.WaitLineT(t, `worker pid=\d+ generation=2 serving`)
}

// TestSIGTERMStopsMasterAndWorkers: SIGTERM to the master stops every worker
// and the master exits 0; the cleanup check fails the test if a worker were
// left behind.
func TestSIGTERMStopsMasterAndWorkers(t *testing.T) {
	p, _, worker := startMaster(t)
	p.SignalT(t, syscall.SIGTERM)
	p.WaitLineT(t, `worker pid=`+strconv.Itoa(worker)+` generation=1 exited: exit status 0`)
	assert.Equal(t, 0, p.WaitT(t))
	assert.Empty(t, p.Survivors())
}

// TestSIGTERMDrainsUnderLoad: SIGTERM to the master while 50 keep-alive
// clients are busy and a slow request is in flight. Every request the
// server accepted is answered; the master exits 0. After the shutdown the
// port is closed, so the clients that try again are refused — that is the
// server being gone, not a request lost.
//
// Why no reset: a connection still in the accept queue when the last copy
// of the socket closes is reset. Here no client dials while the socket
// closes: each holds a keep-alive connection and dials again only after a
// "Connection: close", which the worker sends only after closing its
// listener, when the master has closed its copy already. (Clients that make
// a new connection per request could hit that moment; see the README.)
func TestSIGTERMDrainsUnderLoad(t *testing.T) {
	p, addr, worker := startMaster(t)
	run, err := load.Start(load.Config{Addr: addr, Clients: 50, MaxRequests: 1000000,
		MaxDuration: 60 * time.Second, KeepAlive: true, Timeout: 10 * time.Second})
	require.NoError(t, err)
	defer run.Stop()
	require.True(t, run.WaitFor(func(r load.Report) bool { return r.OK >= 500 }, 30*time.Second), "no load got through")
	slow, err := load.BeginSlow(addr, "/slow?ms=1000", 10*time.Second)
	require.NoError(t, err)

	p.SignalT(t, syscall.SIGTERM)
	assert.Equal(t, 0, p.WaitT(t), "master exit code")
	rep := run.Stop()
	t.Logf("%v", rep)
	_, err = slow.Finish(10 * time.Second)
	assert.NoError(t, err, "the request in flight was cut")

	assert.Zero(t, rep.Failed()-rep.Errors[load.Refused], "errors other than refused: %v", rep.Errors)
	assert.Equal(t, map[int]int{worker: rep.OK}, rep.ByPID)
}

// TestRapidRestartsWhileIdle: restart after restart with no load, each one
// as soon as the previous worker serves; every old worker must exit. This
// catches a listener that was switched to blocking mode under a running
// worker (see listenerFile in main.go): that worker then sits in accept(2)
// in the kernel, where closing its listener cannot wake it, and never exits.
func TestRapidRestartsWhileIdle(t *testing.T) {
	p, _, _ := startMaster(t)
	for gen := 2; gen <= 15; gen++ {
		p.SignalT(t, syscall.SIGHUP)
		p.WaitLineT(t, fmt.Sprintf(`worker pid=\d+ generation=%d serving`, gen))
	}
	exited := p.WaitMatchesT(t, `worker pid=\d+ generation=(\d+) exited: exit status 0`, 14)
	assert.Len(t, exited, 14, "generations 1-14 exited, 15 serves")
	p.SignalT(t, syscall.SIGTERM)
	assert.Equal(t, 0, p.WaitT(t))
}
