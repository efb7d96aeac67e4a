package main

import (
	"net"
	"os"
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

// TestSocketIsInheritedAcrossExec: after SIGHUP the process has the same PID
// and holds the very same listening socket (same inode), on the fd number the
// environment told it.
func TestSocketIsInheritedAcrossExec(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	p := proc.StartT(t, bin, "-addr", "127.0.0.1:0")
	m := p.WaitLineT(t, listening)
	addr := m[1]
	require.Equal(t, strconv.Itoa(p.PID()), m[2])
	before, err := proc.ListenInode(addr)
	require.NoError(t, err)
	fds, err := proc.FDsOf(p.PID(), before)
	require.NoError(t, err)
	require.Len(t, fds, 1, "the listening socket is on one fd before the restart")

	p.SignalT(t, syscall.SIGHUP)
	m = p.WaitLineT(t, listening)
	assert.Equal(t, addr, m[1], "same address")
	assert.Equal(t, strconv.Itoa(p.PID()), m[2], "exec keeps the PID")

	after, err := proc.ListenInode(addr)
	require.NoError(t, err)
	assert.Equal(t, before, after, "the same socket is listening")
	fds, err = proc.FDsOf(p.PID(), after)
	require.NoError(t, err)
	assert.Len(t, fds, 1, "the new image holds the socket (the inherited fd was closed after dup)")

	run, err := load.Start(load.Config{Addr: addr, Clients: 1, MaxRequests: 3, MaxDuration: 10 * time.Second})
	require.NoError(t, err)
	assert.Equal(t, 3, run.Wait().OK, "the new image serves")
}

// TestReexecUnderLoadRefusesNobody: clients keep sending requests across a
// SIGHUP. The socket never closes, so no connection is refused; but every
// connection open at the moment of exec is cut, and the test logs how many
// requests died that way.
func TestReexecUnderLoadRefusesNobody(t *testing.T) {
	for _, keepAlive := range []bool{false, true} {
		t.Run(map[bool]string{false: "close", true: "keepalive"}[keepAlive], func(t *testing.T) {
			p := proc.StartT(t, bin, "-addr", "127.0.0.1:0")
			addr := p.WaitLineT(t, listening)[1]

			run, err := load.Start(load.Config{Addr: addr, Clients: 20, MaxRequests: 200000,
				MaxDuration: 60 * time.Second, KeepAlive: keepAlive, Timeout: 5 * time.Second})
			require.NoError(t, err)
			defer run.Stop()
			require.True(t, run.WaitFor(func(r load.Report) bool { return r.OK >= 200 }, 30*time.Second), "no load got through")

			p.SignalT(t, syscall.SIGHUP)
			p.WaitLineT(t, listening) // the new image is serving
			okThen := run.Snapshot().OK
			require.True(t, run.WaitFor(func(r load.Report) bool { return r.OK >= okThen+200 }, 30*time.Second),
				"the new image did not serve")
			rep := run.Stop()
			t.Logf("keep-alive=%v\n%v", keepAlive, rep)

			assert.Zero(t, rep.Errors[load.Refused], "refused")
			assert.Equal(t, []int{p.PID()}, keys(rep.ByPID), "one PID served everything")
		})
	}
}

// TestReexecCutsRequestInFlight: a request that has started (its first byte
// arrived) when SIGHUP comes is cut off by the exec.
func TestReexecCutsRequestInFlight(t *testing.T) {
	p := proc.StartT(t, bin, "-addr", "127.0.0.1:0")
	addr := p.WaitLineT(t, listening)[1]

	slow, err := load.BeginSlow(addr, "/slow?ms=5000", 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, 200, slow.Status())

	p.SignalT(t, syscall.SIGHUP)
	p.WaitLineT(t, listening)
	_, err = slow.Finish(10 * time.Second)
	require.Error(t, err, "the request in flight should have been cut")
	assert.Contains(t, []load.Class{load.EOF, load.Reset}, load.Classify(err), "%v", err)
}

// TestHUPDuringReexecIsSurvived: SIGHUPs keep coming while the program
// re-executes. Exec resets a caught signal to its default action, which for
// SIGHUP is "terminate"; a HUP between exec and the new image's
// signal.Notify would kill the only process holding the socket. The program
// ignores SIGHUP just before exec (an ignored signal stays ignored across
// exec), so it must survive and keep serving.
func TestHUPDuringReexecIsSurvived(t *testing.T) {
	p := proc.StartT(t, bin, "-addr", "127.0.0.1:0")
	addr := p.WaitLineT(t, listening)[1]
	// A burst of HUPs, 200 µs apart for 50 ms: some land in the window.
	for range 250 {
		if p.Signal(syscall.SIGHUP) != nil {
			break // it died: checked below
		}
		time.Sleep(200 * time.Microsecond)
	}
	// The last HUPs may still start a re-exec, which cuts the connection it
	// has accepted (this stage's lesson, TestReexecCutsRequestInFlight):
	// wait until the newest image says it listens and nothing new has been
	// printed for 300 ms, then load.
	deadline := time.Now().Add(proc.ReadyTimeout)
	for prev := -1; ; time.Sleep(300 * time.Millisecond) {
		lines := p.Lines()
		n := len(lines)
		if n == prev && regexp.MustCompile(listening).MatchString(lines[n-1]) {
			break
		}
		prev = n
		select {
		case <-p.Done():
			t.Fatalf("the process died during the HUP burst: %v", p.Output())
		default:
		}
		require.False(t, time.Now().After(deadline), "the re-execs did not settle: %v", p.Output())
	}
	run, err := load.Start(load.Config{Addr: addr, Clients: 1, MaxRequests: 3, MaxDuration: 20 * time.Second, Timeout: 10 * time.Second})
	require.NoError(t, err)
	rep := run.Wait()
	select {
	case <-p.Done():
		t.Fatalf("the process died during the HUP burst: %v", p.Output())
	default:
	}
	assert.Equal(t, 3, rep.OK, "%v", rep)
	p.SignalT(t, syscall.SIGTERM)
	assert.Equal(t, 0, p.WaitT(t))
}

func keys(m map[int]int) []int {
	var ks []int
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
