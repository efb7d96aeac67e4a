package main

import (
	"net"
	"os"
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

const listening = `listening on (\S+) pid=(\d+)`

// TestSIGTERMStopsTheServer: SIGTERM closes the listener, the process exits 0
// and the port refuses connections afterwards.
func TestSIGTERMStopsTheServer(t *testing.T) {
	p := proc.StartT(t, bin, "-addr", "127.0.0.1:0")
	addr := p.WaitLineT(t, listening)[1]

	run, err := load.Start(load.Config{Addr: addr, Clients: 1, MaxRequests: 5, MaxDuration: 10 * time.Second})
	require.NoError(t, err)
	rep := run.Wait()
	require.Equal(t, 5, rep.OK, "%v", rep)
	assert.Equal(t, map[int]int{p.PID(): 5}, rep.ByPID)

	p.SignalT(t, syscall.SIGTERM)
	assert.Equal(t, 0, p.WaitT(t), "exit code")
	_, err = net.DialTimeout("tcp", addr, 5*time.Second)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
}

// TestRestartByHandUnderLoad stops the server and starts a new one on the
// same port while clients keep sending requests. In the gap nobody holds the
// socket, so clients are refused: the test waits until that happened before
// it starts the new process, so the gap is certain, not lucky.
func TestRestartByHandUnderLoad(t *testing.T) {
	for _, keepAlive := range []bool{false, true} {
		t.Run(map[bool]string{false: "close", true: "keepalive"}[keepAlive], func(t *testing.T) {
			old := proc.StartT(t, bin, "-addr", "127.0.0.1:0")
			addr := old.WaitLineT(t, listening)[1]

			run, err := load.Start(load.Config{Addr: addr, Clients: 20, MaxRequests: 200000,
				MaxDuration: 60 * time.Second, KeepAlive: keepAlive, Timeout: 5 * time.Second})
			require.NoError(t, err)
			defer run.Stop()
			require.True(t, run.WaitFor(func(r load.Report) bool { return r.OK >= 200 }, 30*time.Second), "no load got through")

			old.SignalT(t, syscall.SIGTERM)
			require.Equal(t, 0, old.WaitT(t))
			require.True(t, run.WaitFor(func(r load.Report) bool { return r.Errors[load.Refused] > 0 }, 30*time.Second),
				"no client was refused while no process held the port")

			// The "restart": a new process on the same port.
			next := proc.StartT(t, bin, "-addr", addr)
			next.WaitLineT(t, listening)
			require.True(t, run.WaitFor(func(r load.Report) bool { return r.ByPID[next.PID()] >= 200 }, 30*time.Second),
				"the new process did not serve")
			rep := run.Stop()
			t.Logf("keep-alive=%v\n%v", keepAlive, rep)

			assert.Positive(t, rep.Errors[load.Refused], "refused")
			assert.Positive(t, rep.ByPID[old.PID()], "the old process served")
			assert.Positive(t, rep.ByPID[next.PID()], "the new process served")
		})
	}
}
