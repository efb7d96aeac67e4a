//go:build exercise

// The exercise's test. It is behind the build tag "exercise" so that the
// template, which fails it until you fill in the TODOs, stays out of
// `go test ./...`. Run it with
//
//	go test -tags exercise ./01-signals/exercise/          # your code (main.go here)
//	go test -tags exercise ./01-signals/exercise/ -answer  # the answer (../main.go)
package main

import (
	"net"
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

// TestSignalStopsTheServer: SIGTERM and SIGINT are caught: the handler logs
// the signal and closes the listener, the process exits 0 (not killed by the
// signal), and the port refuses connections afterwards.
func TestSignalStopsTheServer(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			p := proc.StartT(t, bin, "-addr", "127.0.0.1:0")
			addr := p.WaitLineT(t, `listening on (\S+) pid=\d+`)[1]
			run, err := load.Start(load.Config{Addr: addr, Clients: 1, MaxRequests: 3, MaxDuration: 10 * time.Second})
			require.NoError(t, err)
			require.Equal(t, 3, run.Wait().OK, "the server answers")

			p.SignalT(t, sig)
			code := p.WaitT(t)
			assert.Equal(t, 0, code, "exit code (-1: killed by the signal, which nobody caught)\n%s", p.Output())
			assert.Contains(t, p.Output(), "got "+sig.String()+", closing the listener")
			_, err = net.DialTimeout("tcp", addr, 5*time.Second)
			assert.ErrorIs(t, err, syscall.ECONNREFUSED, "the port is closed")
		})
	}
}
