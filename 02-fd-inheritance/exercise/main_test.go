//go:build exercise

// The exercise's test. It is behind the build tag "exercise" so that the
// template, which fails it until you fill in the TODOs, stays out of
// `go test ./...`. Run it with
//
//	go test -tags exercise ./02-fd-inheritance/exercise/          # your code (main.go here)
//	go test -tags exercise ./02-fd-inheritance/exercise/ -answer  # the answer (../main.go)
package main

import (
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

func TestMain(m *testing.M) { proc.RunExercise(m, &bin) }

const listening = `listening on (\S+) pid=(\d+)`

// TestSocketSurvivesReexec: clients keep sending requests across a SIGHUP.
// The new image (same PID) must listen on the same address with the same
// socket (on Linux: the same inode), and no client may be refused: the
// socket never closed, the kernel queued connections during the exec.
func TestSocketSurvivesReexec(t *testing.T) {
	p := proc.StartT(t, bin, "-addr", "127.0.0.1:0")
	addr := p.WaitLineT(t, listening)[1]
	var inode uint64
	if runtime.GOOS == "linux" {
		var err error
		inode, err = proc.ListenInode(addr)
		require.NoError(t, err)
	}
	run, err := load.Start(load.Config{Addr: addr, Clients: 5, MaxRequests: 100000,
		MaxDuration: 60 * time.Second, Timeout: 5 * time.Second})
	require.NoError(t, err)
	defer run.Stop()
	require.True(t, run.WaitFor(func(r load.Report) bool { return r.OK >= 100 }, 30*time.Second), "no load got through")

	p.SignalT(t, syscall.SIGHUP)
	m := p.WaitLineT(t, listening)
	require.Equal(t, addr, m[1], "the new image listens on a new socket: was FD_CLOEXEC cleared and %s set?", "HOTDEPLOY_LISTEN_FD")
	assert.Equal(t, strconv.Itoa(p.PID()), m[2], "exec keeps the PID")
	if runtime.GOOS == "linux" {
		after, err := proc.ListenInode(addr)
		require.NoError(t, err)
		assert.Equal(t, inode, after, "the same socket is listening")
	}
	okThen := run.Snapshot().OK
	require.True(t, run.WaitFor(func(r load.Report) bool { return r.OK >= okThen+100 }, 30*time.Second),
		"the new image did not serve")
	rep := run.Stop()
	t.Logf("%v", rep)
	assert.Zero(t, rep.Errors[load.Refused], "refused: the socket was closed for a moment")

	p.SignalT(t, syscall.SIGTERM)
	assert.Equal(t, 0, p.WaitT(t))
}
