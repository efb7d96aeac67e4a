//go:build exercise

// The exercise's test. It is behind the build tag "exercise" so that the
// template, which fails it until you fill in the TODOs, stays out of
// `go test ./...`. Run it with
//
//	go test -tags exercise ./02-fd-inheritance/exercise/          # your code (main.go here)
//	go test -tags exercise ./02-fd-inheritance/exercise/ -answer  # the answer (../main.go)
//
// Every failure says what to check; HINTS.md has the steps.
package main

import (
	"regexp"
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

// TestSocketSurvivesReexec: clients keep sending requests across two
// SIGHUPs. After each, the new image (same PID) must listen on the same
// address with the same socket (on Linux: the same inode), and no client
// may be refused: the socket never closed, the kernel queued connections
// during the exec. Two restarts, because the second is where a fd number
// that was right only for the first image shows: the first image has the
// socket on fd 3, but an image that inherited it keeps it on another fd.
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

	for restart := 1; restart <= 2; restart++ {
		p.SignalT(t, syscall.SIGHUP)
		m, err := p.WaitLine(regexp.MustCompile(listening), proc.ReadyTimeout)
		require.NoError(t, err, "SIGHUP #%d: the new image did not listen (its log says why). Check that "+
			"FD_CLOEXEC is cleared on the listener's own fd, and that %s holds that fd's number: the "+
			"number the listener has now, read inside Control, not a constant (an image that inherited "+
			"the socket keeps it on another fd than 3)", restart, "HOTDEPLOY_LISTEN_FD")
		require.Equal(t, addr, m[1], "SIGHUP #%d: the new image listens on a new socket: was FD_CLOEXEC cleared "+
			"and %s set?", restart, "HOTDEPLOY_LISTEN_FD")
		assert.Equal(t, strconv.Itoa(p.PID()), m[2], "SIGHUP #%d: the new image has another PID. Check that reexec "+
			"replaces the running program (unix.Exec) instead of starting a new process", restart)
		if runtime.GOOS == "linux" {
			after, err := proc.ListenInode(addr)
			require.NoError(t, err)
			assert.Equal(t, inode, after, "SIGHUP #%d: another socket listens on the address. Check that the new "+
				"image takes the inherited fd (listen, through %s) instead of binding anew", restart, "HOTDEPLOY_LISTEN_FD")
		}
		okThen := run.Snapshot().OK
		require.True(t, run.WaitFor(func(r load.Report) bool { return r.OK >= okThen+100 }, 30*time.Second),
			"SIGHUP #%d: the new image did not serve", restart)
	}
	rep := run.Stop()
	t.Logf("%v", rep)
	assert.Zero(t, rep.Errors[load.Refused], "refused: the socket was closed for a moment. Check that the "+
		"listener is not closed before exec, and that the new image takes the inherited socket instead of "+
		"listening anew")

	p.SignalT(t, syscall.SIGTERM)
	assert.Equal(t, 0, p.WaitT(t), "exit status after SIGTERM. Check that the new image still catches SIGTERM "+
		"and closes its listener")
}
