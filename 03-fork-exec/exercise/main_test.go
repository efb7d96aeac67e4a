//go:build exercise

// The exercise's test. It is behind the build tag "exercise" so that the
// template, which fails it until you fill in the TODO, stays out of
// `go test ./...`. Run it with
//
//	go test -tags exercise ./03-fork-exec/exercise/          # your code (main.go here)
//	go test -tags exercise ./03-fork-exec/exercise/ -answer  # the answer (../main.go)
package main

import (
	"regexp"
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

// TestSIGHUPStartsNewWorkerFirst: under load, SIGHUP to the master starts a
// worker of generation 2, and only after that is the old worker sent
// SIGTERM (the master's log shows the order). The old worker exits 0, the
// new one serves, and no client is refused.
func TestSIGHUPStartsNewWorkerFirst(t *testing.T) {
	p := proc.StartT(t, bin, "-addr", "127.0.0.1:0")
	addr := p.WaitLineT(t, `listening on (\S+) pid=\d+`)[1]
	old := p.WaitLineT(t, `worker pid=(\d+) generation=1 serving`)[1]

	run, err := load.Start(load.Config{Addr: addr, Clients: 5, MaxRequests: 100000,
		MaxDuration: 60 * time.Second, Timeout: 5 * time.Second})
	require.NoError(t, err)
	defer run.Stop()
	require.True(t, run.WaitFor(func(r load.Report) bool { return r.ByGen[1] >= 100 }, 30*time.Second), "generation 1 did not serve")

	p.SignalT(t, syscall.SIGHUP)
	// 10 s is ample for a fork+exec; the template, which does nothing on
	// SIGHUP, fails here.
	_, err = p.WaitLine(regexp.MustCompile(`worker pid=\d+ generation=2 serving`), 10*time.Second)
	require.NoError(t, err, "no worker of generation 2 after SIGHUP")
	_, err = p.WaitMatches(regexp.MustCompile(`worker pid=`+old+` generation=1 exited: exit status 0`), 1, proc.ExitTimeout)
	require.NoError(t, err, "the old worker did not exit 0 after SIGTERM")

	started, stopped := -1, -1
	for i, line := range p.Lines() {
		if started < 0 && regexp.MustCompile(`started worker pid=\d+ generation=2`).MatchString(line) {
			started = i
		}
		if stopped < 0 && regexp.MustCompile(`sending SIGTERM to old worker pid=`+old+`\b`).MatchString(line) {
			stopped = i
		}
	}
	require.GreaterOrEqual(t, started, 0, "no line \"started worker pid=... generation=2\"")
	require.GreaterOrEqual(t, stopped, 0, "no line \"sending SIGTERM to old worker pid=%s\"", old)
	assert.Less(t, started, stopped, "the new worker must be started before the old one is stopped")

	require.True(t, run.WaitFor(func(r load.Report) bool { return r.ByGen[2] >= 100 }, 30*time.Second), "generation 2 did not serve")
	rep := run.Stop()
	t.Logf("%v", rep)
	assert.Zero(t, rep.Errors[load.Refused], "refused")

	p.SignalT(t, syscall.SIGTERM)
	assert.Equal(t, 0, p.WaitT(t))
}
