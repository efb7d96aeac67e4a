//go:build exercise

// The exercise's test. It is behind the build tag "exercise" so that the
// template, which fails it until you fill in the TODO, stays out of
// `go test ./...`. Run it with
//
//	go test -tags exercise ./03-fork-exec/exercise/          # your code (main.go here)
//	go test -tags exercise ./03-fork-exec/exercise/ -answer  # the answer (../main.go)
//
// Every failure says what to check; HINTS.md has the steps.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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

const serving = `worker pid=(\d+) generation=(\d+) serving`

// startMaster starts the master on an OS-chosen port and waits until its
// first worker serves. It returns the master, the address and the worker's
// PID.
func startMaster(t *testing.T) (*proc.Process, string, string) {
	t.Helper()
	p := proc.StartT(t, bin, "-addr", "127.0.0.1:0")
	addr := p.WaitLineT(t, `listening on (\S+) pid=\d+`)[1]
	w := p.WaitLineT(t, serving)
	require.Equal(t, "1", w[2], "the first worker is generation 1")
	return p, addr, w[1]
}

// TestSIGHUPStartsNewWorkerFirst: under load, three SIGHUPs to the master.
// Each starts a worker of the next generation (2, 3, 4, in order), and only
// after that is the worker of the previous generation sent SIGTERM (the
// master's log shows the order). Every old worker exits 0, the new one
// serves, no client is refused, and at the end exactly one worker answers:
// the last one.
func TestSIGHUPStartsNewWorkerFirst(t *testing.T) {
	t.Parallel()
	p, addr, first := startMaster(t)
	run, err := load.Start(load.Config{Addr: addr, Clients: 5, MaxRequests: 100000,
		MaxDuration: 60 * time.Second, Timeout: 5 * time.Second})
	require.NoError(t, err)
	defer run.Stop()
	require.True(t, run.WaitFor(func(r load.Report) bool { return r.ByGen[1] >= 100 }, 30*time.Second), "generation 1 did not serve")

	pids := map[int]string{1: first}
	const last = 4
	for gen := 2; gen <= last; gen++ {
		p.SignalT(t, syscall.SIGHUP)
		// 10 s is ample for a fork+exec; the template, which does nothing on
		// SIGHUP, fails here.
		m, err := p.WaitLine(regexp.MustCompile(serving), 10*time.Second)
		require.NoError(t, err, "SIGHUP #%d: no new worker serves. Check the SIGHUP case in master: it must "+
			"start a worker (startWorker) and keep receiving from exitC", gen-1)
		require.Equal(t, strconv.Itoa(gen), m[2], "SIGHUP #%d: the new worker says it is generation %s, want %d. "+
			"Check that master counts the restarts: generation must grow by one on every SIGHUP and stay "+
			"grown (a new worker started with generation+1 but generation itself unchanged is generation 2 "+
			"every time)", gen-1, m[2], gen)
		pids[gen] = m[1]

		stops, err := p.WaitMatches(regexp.MustCompile(`sending SIGTERM to old worker pid=(\d+)`), gen-1, 10*time.Second)
		hint := "Check that master, after starting the new worker, logs that line and sends SIGTERM to the current worker"
		if gen > 2 {
			hint = "Check that the new worker becomes the current one after each restart (current = the new " +
				"worker): the master stops only the current worker, so without that it has nobody to stop from " +
				"the second restart on, and the old workers keep serving"
		}
		require.NoError(t, err, "SIGHUP #%d: the master did not stop the old worker (pid %s, generation %d): no "+
			"line \"sending SIGTERM to old worker pid=…\" for this restart. %s", gen-1, pids[gen-1], gen-1, hint)
		require.Equal(t, pids[gen-1], stops[gen-2][1], "SIGHUP #%d: the master sent SIGTERM to pid %s, want "+
			"pid %s, the current worker (generation %d). Check that the new worker becomes the current one "+
			"after each restart (current = the new worker): otherwise every restart stops the first worker "+
			"again and the others keep serving", gen-1, stops[gen-2][1], pids[gen-1], gen-1)

		started := firstLine(p.Lines(), fmt.Sprintf(`started worker pid=%s generation=%d\b`, pids[gen], gen))
		stopped := firstLine(p.Lines(), `sending SIGTERM to old worker pid=`+pids[gen-1]+`\b`)
		require.GreaterOrEqual(t, started, 0, "no line \"started worker pid=%s generation=%d\"", pids[gen], gen)
		require.Less(t, started, stopped, "SIGHUP #%d: the old worker was sent SIGTERM before the new one was "+
			"started. Start the new worker first and stop the old one only once the new one has started: "+
			"if the new one cannot start, the old one must go on serving (TestFailedStartKeepsTheOldWorker)", gen-1)

		_, err = p.WaitMatches(regexp.MustCompile(fmt.Sprintf(`worker pid=%s generation=%d exited: exit status 0`,
			pids[gen-1], gen-1)), 1, proc.ExitTimeout)
		require.NoError(t, err, "the old worker (generation %d) did not exit 0 after SIGTERM. Check that "+
			"master sends SIGTERM to it (current.cmd.Process.Signal)", gen-1)
		// The master says this when the worker it thinks is current exits:
		// after a restart, that can only be a master that still takes the
		// old worker for the current one.
		require.Negative(t, firstLine(p.Lines(), `the current worker died by itself`), "SIGHUP #%d: when the "+
			"old worker (pid %s) exited, the master said \"the current worker died by itself\": it still took "+
			"the old worker for the current one. Check that the new worker becomes the current one after each "+
			"restart (current = the new worker)", gen-1, pids[gen-1])
		require.True(t, run.WaitFor(func(r load.Report) bool { return r.ByGen[gen] >= 100 }, 30*time.Second),
			"generation %d did not serve", gen)
	}
	rep := run.Stop()
	t.Logf("%v", rep)
	assert.Zero(t, rep.Errors[load.Refused], "refused: the socket was closed for a moment. Check that the "+
		"master never closes its listener on SIGHUP")

	// Every old worker has exited: new connections can only reach the last.
	after, err := load.Start(load.Config{Addr: addr, Clients: 5, MaxRequests: 200, MaxDuration: 30 * time.Second})
	require.NoError(t, err)
	rep = after.Wait()
	assert.Equal(t, map[int]int{atoi(pids[last]): 200}, rep.ByPID, "after %d restarts, only the generation %d "+
		"worker (pid %s) may answer: any other is a worker the master started and never stopped", last-1, last, pids[last])

	p.SignalT(t, syscall.SIGTERM)
	assert.Equal(t, 0, p.WaitT(t), "the master's exit status after SIGTERM. Check that the SIGHUP case leaves "+
		"live with exactly the workers that run: the master exits when live is empty")
}

// TestFailedStartKeepsTheOldWorker: a deploy whose new binary cannot even
// be started (here: a file that is not executable, as a half-finished copy
// can be). SIGHUP must leave the old worker serving: the master starts the
// new worker first, sees it fail, and keeps the old one. Stopping the old
// worker first would leave nobody to answer: every client waits in the
// accept queue until it gives up.
func TestFailedStartKeepsTheOldWorker(t *testing.T) {
	t.Parallel()
	// The master starts workers from its own executable's path (see
	// startWorker), so the test runs a copy it can replace.
	exe := filepath.Join(t.TempDir(), "s03")
	b, err := os.ReadFile(bin)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(exe, b, 0o755))
	p := proc.StartT(t, exe, "-addr", "127.0.0.1:0")
	addr := p.WaitLineT(t, `listening on (\S+) pid=\d+`)[1]
	first := p.WaitLineT(t, serving)[1]

	// Deploy a broken binary: replace the file (rename, as deploy tools do;
	// the running processes keep their old image).
	broken := exe + ".new"
	require.NoError(t, os.WriteFile(broken, []byte("not a program\n"), 0o644))
	require.NoError(t, os.Rename(broken, exe))
	p.SignalT(t, syscall.SIGHUP)
	_, err = p.WaitLine(regexp.MustCompile(`start worker: `), 10*time.Second)
	require.NoError(t, err, "the master did not log that the new worker could not start. Check that the "+
		"SIGHUP case logs the error of startWorker (\"start worker: …\")")

	// The master's own log is in order: had it stopped the old worker, it
	// would have said so before it tried to start the new one.
	if firstLine(p.Lines(), `sending SIGTERM to old worker pid=`+first+`\b`) >= 0 {
		t.Errorf("the master stopped the old worker (pid %s) although the new one could not start. Check the "+
			"order in the SIGHUP case: start the new worker first; if that fails, log it and keep the old one "+
			"(do not stop it)", first)
	}

	// 500 requests, or two seconds of them: the old worker answers them all. (Had it been
	// stopped, nobody would answer: each client would wait its whole
	// timeout, in the accept queue.)
	run, err := load.Start(load.Config{Addr: addr, Clients: 1, MaxRequests: 500, MaxDuration: 2 * time.Second,
		Timeout: 3 * time.Second})
	require.NoError(t, err)
	rep := run.Wait()
	t.Logf("%v", rep)
	assert.Zero(t, rep.Failed(), "after a SIGHUP whose new worker could not start, the old worker (pid %s) "+
		"must go on answering; errors: %v. Check the order in the SIGHUP case: start the new worker first; "+
		"if that fails, log it and keep the old one (do not stop it)", first, rep.Errors)
	require.Positive(t, rep.OK, "no request was answered after the failed SIGHUP")
	assert.Equal(t, []int{atoi(first)}, keys(rep.ByPID), "who answered: only the old worker runs. Check "+
		"that the SIGHUP case starts nothing else when startWorker fails")
}

func keys(m map[int]int) []int {
	var ks []int
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestRestartWait measures what a restart costs a client: one client sends
// requests one after another, each on a new connection, and the test takes
// the slowest request around each SIGHUP. No connection is refused (the
// master holds the socket), but a request that arrives while no worker
// accepts waits in the queue until one does. That wait is what a restart
// costs here. In this stage it is the new worker's start-up in either order:
// the master sends SIGTERM right after fork+exec and does not wait for the
// new worker to be ready, so stopping the old worker first adds only the
// fork+exec to it (stage 05 waits for readiness, and there the order
// decides whether clients wait at all).
//
// It runs in parallel with the other tests, which load the machine too: to
// measure, run it alone (-run TestRestartWait -v).
func TestRestartWait(t *testing.T) {
	t.Parallel()
	const restarts = 20
	p, addr, _ := startMaster(t)
	var waits []time.Duration
	for gen := 2; gen <= restarts+1; gen++ {
		run, err := load.Start(load.Config{Addr: addr, Clients: 1, MaxRequests: 100000,
			MaxDuration: 60 * time.Second, Timeout: 10 * time.Second})
		require.NoError(t, err)
		require.True(t, run.WaitFor(func(r load.Report) bool { return r.ByGen[gen-1] >= 50 }, 30*time.Second),
			"generation %d did not serve", gen-1)
		p.SignalT(t, syscall.SIGHUP)
		if _, err := p.WaitLine(regexp.MustCompile(fmt.Sprintf(`worker pid=\d+ generation=%d serving`, gen)), 10*time.Second); err != nil {
			run.Stop()
			t.Fatalf("SIGHUP #%d: no worker of generation %d serves: %v. TestSIGHUPStartsNewWorkerFirst says "+
				"more", gen-1, gen, err)
		}
		ok := run.WaitFor(func(r load.Report) bool { return r.ByGen[gen] >= 50 }, 30*time.Second)
		rep := run.Stop()
		require.True(t, ok, "generation %d did not serve: %v", gen, rep)
		// The old worker still exits at once and may cut the request it
		// was answering (stage 04 fixes that); a refusal is a real error.
		require.Zero(t, rep.Errors[load.Refused], "restart %d: refused: the socket was closed for a moment. "+
			"Check that the master never closes its listener on SIGHUP", gen-1)
		waits = append(waits, rep.Max)
		p.WaitMatchesT(t, fmt.Sprintf(`generation=%d exited`, gen-1), 1)
	}
	slices.Sort(waits)
	t.Logf("slowest request per restart, %d restarts: median %v, min %v, max %v", restarts,
		waits[restarts/2].Round(10*time.Microsecond), waits[0].Round(10*time.Microsecond), waits[restarts-1].Round(10*time.Microsecond))
}

func firstLine(lines []string, pattern string) int {
	re := regexp.MustCompile(pattern)
	return slices.IndexFunc(lines, re.MatchString)
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
