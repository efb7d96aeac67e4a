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
func startMaster(t *testing.T) (*proc.Process, string, int) {
	t.Helper()
	p := proc.StartT(t, bin, "-addr", "127.0.0.1:0")
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

// TestRestartUnderLoad: across a SIGHUP under load, no client is refused
// (some process always holds the socket) and both generations answer; but
// the old worker exits at once, so requests it was answering are cut. The
// test logs how many.
func TestRestartUnderLoad(t *testing.T) {
	for _, keepAlive := range []bool{false, true} {
		t.Run(map[bool]string{false: "close", true: "keepalive"}[keepAlive], func(t *testing.T) {
			p, addr, _ := startMaster(t)
			run, err := load.Start(load.Config{Addr: addr, Clients: 20, MaxRequests: 200000,
				MaxDuration: 60 * time.Second, KeepAlive: keepAlive, Timeout: 5 * time.Second})
			require.NoError(t, err)
			defer run.Stop()
			require.True(t, run.WaitFor(func(r load.Report) bool { return r.ByGen[1] >= 200 }, 30*time.Second), "generation 1 did not serve")

			p.SignalT(t, syscall.SIGHUP)
			require.True(t, run.WaitFor(func(r load.Report) bool { return r.ByGen[2] >= 200 }, 30*time.Second), "generation 2 did not serve")
			rep := run.Stop()
			t.Logf("keep-alive=%v\n%v", keepAlive, rep)

			assert.Zero(t, rep.Errors[load.Refused], "refused")
			assert.Positive(t, rep.ByGen[1])
			assert.Positive(t, rep.ByGen[2])
		})
	}
}

// TestRestartCutsRequestInFlight: the old worker exits as soon as it gets
// SIGTERM, and a request it was still answering is cut.
func TestRestartCutsRequestInFlight(t *testing.T) {
	p, addr, worker := startMaster(t)
	slow, err := load.BeginSlow(addr, "/slow?ms=5000", 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, worker, slow.PID)

	p.SignalT(t, syscall.SIGHUP)
	p.WaitLineT(t, `worker pid=`+strconv.Itoa(worker)+` generation=1 exited`)
	_, err = slow.Finish(10 * time.Second)
	require.Error(t, err, "the request in flight should have been cut")
	assert.Contains(t, []load.Class{load.EOF, load.Reset}, load.Classify(err), "%v", err)
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
