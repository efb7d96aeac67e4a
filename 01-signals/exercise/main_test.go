//go:build exercise

// The exercise's test. It is behind the build tag "exercise" so that the
// template, which fails it until you fill in the TODOs, stays out of
// `go test ./...`. Run it with
//
//	go test -tags exercise ./01-signals/exercise/          # your code (main.go here)
//	go test -tags exercise ./01-signals/exercise/ -answer  # the answer (../main.go)
//
// Every failure says what to check; HINTS.md has the steps.
package main

import (
	"net"
	"strings"
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

// exitWithin is how long the server may take to exit after the signal. Closing
// a listener and returning from main takes milliseconds; 8 s is a wide margin
// on a loaded machine, and short enough that a server that never exits fails
// the test in seconds rather than minutes.
const exitWithin = 8 * time.Second

// TestSignalStopsTheServer: SIGTERM and SIGINT are caught: the handler logs
// the signal and closes the listener, the process exits 0 (not killed by the
// signal), and the port refuses connections afterwards.
func TestSignalStopsTheServer(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		stuck := false
		t.Run(sig.String(), func(t *testing.T) {
			p := proc.StartT(t, bin, "-addr", "127.0.0.1:0")
			addr := p.WaitLineT(t, `listening on (\S+) pid=\d+`)[1]
			run, err := load.Start(load.Config{Addr: addr, Clients: 1, MaxRequests: 3, MaxDuration: 10 * time.Second})
			require.NoError(t, err)
			require.Equal(t, 3, run.Wait().OK, "the server answers")

			p.SignalT(t, sig)
			code, err := p.Wait(exitWithin)
			if err != nil && code != -1 {
				stuck = true
				p.Kill() // not the cleanup's SIGTERM: this server ignores it
				logged := strings.Contains(p.Output(), "got "+sig.String()+", closing the listener")
				t.Fatalf("still running %v after the signal (%v; log line printed: %v). Check that waitSignal "+
					"closes ln after logging: Serve returns only when the listener is closed, and main "+
					"exits only when Serve returns.", exitWithin, sig, logged)
			}
			assert.Equal(t, 0, code, "exit status (-1: killed by the signal, which nobody caught). Check that "+
				"main calls signal.Notify for SIGTERM and SIGINT before it prints \"listening on\", and starts "+
				"waitSignal in a goroutine.")
			assert.Contains(t, p.Output(), "got "+sig.String()+", closing the listener",
				"the log line. Check that waitSignal receives one signal from sigC and logs it with log.Printf "+
					"(%%v of the signal prints %q).", sig.String())
			_, err = net.DialTimeout("tcp", addr, 5*time.Second)
			assert.ErrorIs(t, err, syscall.ECONNREFUSED, "the port is still open after the process exited: check "+
				"that nothing else (a child process) holds the listening socket")
		})
		if stuck {
			break // the other signal would wait just as long, for the same reason
		}
	}
}
