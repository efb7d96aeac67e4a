package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"hotdeploy/internal/load"
	"hotdeploy/internal/proc"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var bin string

func TestMain(m *testing.M) {
	var cleanup func()
	bin, cleanup = proc.BuildMain(".")
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// startWorker starts the worker the way Perl's start_server would: the
// socket on fd 4 (not 3: a worker must read the number), named in
// SERVER_STARTER_PORT, and the generation in SERVER_STARTER_GENERATION.
func startWorker(t *testing.T, ln *net.TCPListener, gen int) *proc.Process {
	t.Helper()
	f, err := ln.File()
	require.NoError(t, err)
	defer f.Close() // the child has its own copy once started
	cmd := exec.Command(bin)
	cmd.ExtraFiles = []*os.File{nil, f} // nil: fd 3 stays closed in the child
	cmd.Env = append(os.Environ(),
		"SERVER_STARTER_PORT="+ln.Addr().String()+"=4",
		"SERVER_STARTER_GENERATION="+strconv.Itoa(gen))
	p, err := proc.StartCmd(cmd)
	require.NoError(t, err)
	proc.Track(t, p)
	p.WaitLineT(t, fmt.Sprintf(`^listening on %s pid=%d$`, ln.Addr(), p.PID()))
	return p
}

// TestRestartByHand replaces one perlworker by another on the same socket
// under load (the test holds the socket, as a starter does) and checks that
// its drain loses nothing, with and without keep-alive.
func TestRestartByHand(t *testing.T) {
	for _, keepAlive := range []bool{true, false} {
		t.Run(fmt.Sprintf("keepalive=%v", keepAlive), func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer l.Close()
			ln := l.(*net.TCPListener)
			old := startWorker(t, ln, 1)

			run, err := load.Start(load.Config{Addr: ln.Addr().String(), Clients: 50, MaxRequests: 1_000_000,
				MaxDuration: 60 * time.Second, KeepAlive: keepAlive, Timeout: 10 * time.Second})
			require.NoError(t, err)
			defer run.Stop()
			require.True(t, run.WaitFor(func(r load.Report) bool { return r.ByGen[1] >= 200 }, 30*time.Second))
			f, err := load.BeginSlow(ln.Addr().String(), "/slow?ms=300", 10*time.Second)
			require.NoError(t, err)

			startWorker(t, ln, 2)
			old.SignalT(t, syscall.SIGTERM)
			require.Equal(t, 0, old.WaitT(t))
			rest, err := f.Finish(10 * time.Second)
			require.NoError(t, err, "the request in flight at SIGTERM is answered")
			assert.Contains(t, rest, "done after 300 ms")
			before := run.Snapshot().ByGen[2]
			require.True(t, run.WaitFor(func(r load.Report) bool { return r.ByGen[2] >= before+200 }, 30*time.Second))
			rep := run.Stop()
			t.Logf("%v", rep)
			assert.Zero(t, rep.Failed(), "errors: %v", rep.Errors)
			assert.Positive(t, rep.ByGen[1])
			assert.Positive(t, rep.ByGen[2])
		})
	}
}

func TestNoStarter(t *testing.T) {
	p := proc.StartT(t, bin)
	assert.NotEqual(t, 0, p.WaitT(t))
	p.WaitLineT(t, `SERVER_STARTER_PORT is empty or unset`)
}
