//go:build exercise

// The exercise's test. It is behind the build tag "exercise" so that the
// template, which fails it until you fill in the TODO, stays out of
// `go test ./...`. Run it with
//
//	go test -tags exercise ./04-graceful-shutdown/exercise/          # your code (main.go here)
//	go test -tags exercise ./04-graceful-shutdown/exercise/ -answer  # the answer (../main.go)
package main

import (
	"fmt"
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
// PID.
func startMaster(t *testing.T) (*proc.Process, string, int) {
	t.Helper()
	p := proc.StartT(t, bin, "-addr", "127.0.0.1:0")
	addr := p.WaitLineT(t, `listening on (\S+) pid=\d+`)[1]
	pid, _ := strconv.Atoi(p.WaitLineT(t, `worker pid=(\d+) generation=1 serving`)[1])
	return p, addr, pid
}

// TestRequestInFlightCompletes: a request the old worker is answering when
// SIGHUP arrives finishes, with 200, from the old worker, which then exits 0.
func TestRequestInFlightCompletes(t *testing.T) {
	p, addr, worker := startMaster(t)
	slow, err := load.BeginSlow(addr, "/slow?ms=1500", 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, worker, slow.PID)

	p.SignalT(t, syscall.SIGHUP)
	rest, err := slow.Finish(10 * time.Second)
	require.NoError(t, err, "the request in flight was cut")
	assert.Equal(t, 200, slow.Status())
	assert.Contains(t, rest, "pid "+strconv.Itoa(worker))
	p.WaitLineT(t, fmt.Sprintf(`worker pid=%d generation=1 exited: exit status 0`, worker))
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
	assert.Zero(t, rep.Failed(), "errors: %v", rep.Errors)
}
