package starter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeProc is a worker that only records the signals it gets.
type fakeProc struct {
	pid  int
	mu   sync.Mutex
	sigs []syscall.Signal
}

func (p *fakeProc) Pid() int { return p.pid }

func (p *fakeProc) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sigs = append(p.sigs, sig)
	return nil
}

func (p *fakeProc) signals() []syscall.Signal {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]syscall.Signal(nil), p.sigs...)
}

// loopHarness drives a supervisor step by step with fake processes and a
// fake clock. Worker generation g gets pid 1000+g.
type loopHarness struct {
	t        *testing.T
	s        *supervisor
	now      time.Time
	procs    map[int]*fakeProc // by generation
	log      []string
	up       []string     // messages to the starter's own NOTIFY_SOCKET
	failGens map[int]bool // start returns an error for these generations
	startErr error        // start returns this error, if set
	calls    int          // calls of start
	status   string       // the status file path
}

func newLoop(t *testing.T, mod func(*Config)) *loopHarness {
	h := &loopHarness{t: t, now: time.Unix(1_000_000, 0), procs: map[int]*fakeProc{}, failGens: map[int]bool{}}
	h.status = filepath.Join(t.TempDir(), "status")
	cfg := Config{Command: []string{"worker"}, StatusFile: h.status, Probation: -1} // no probation unless a test sets one
	if mod != nil {
		mod(&cfg)
	}
	h.s = &supervisor{cfg: withDefaults(cfg), backoffMin: time.Second, backoffMax: 30 * time.Second, logf: func(f string, a ...any) { h.log = append(h.log, fmt.Sprintf(f, a...)) },
		os: osSeam{now: func() time.Time { return h.now }, notifyUp: func(m string) { h.up = append(h.up, m) }, start: func(gen int) (process, error) {
			h.calls++
			if h.startErr != nil {
				return nil, h.startErr
			}
			if h.failGens[gen] {
				return nil, errors.New("fork: resource temporarily unavailable")
			}
			p := &fakeProc{pid: 1000 + gen}
			h.procs[gen] = p
			return p, nil
		}}}
	return h
}

// advance moves the clock by d, firing every deadline on the way at its
// time, as the real loop's timer would.
func (h *loopHarness) advance(d time.Duration) {
	target := h.now.Add(d)
	for i := 0; ; i++ {
		require.Less(h.t, i, 1000, "deadlines do not advance")
		at, ok := h.s.nextDeadline()
		if !ok || at.After(target) {
			break
		}
		if at.After(h.now) {
			h.now = at
		}
		h.s.onTimer(h.now)
	}
	h.now = target
}

func (h *loopHarness) exit(gen, code int) {
	h.s.onExit(1000+gen, waitStatusToExit(syscall.WaitStatus(code<<8)), h.now)
}

func (h *loopHarness) killedBy(gen int, sig syscall.Signal) {
	h.s.onExit(1000+gen, waitStatusToExit(syscall.WaitStatus(sig)), h.now)
}

func (h *loopHarness) ready(gen int) {
	h.s.onNotify(notifyEvent{gen: gen, msg: notifyMsg{ready: true}}, h.now)
}

func (h *loopHarness) sig(gen int) []syscall.Signal {
	p := h.procs[gen]
	require.NotNil(h.t, p, "generation %d was never started", gen)
	return p.signals()
}

func (h *loopHarness) statusFile() string {
	b, err := os.ReadFile(h.status)
	if err != nil {
		return "<none>"
	}
	return string(b)
}

func (h *loopHarness) started() int { return len(h.procs) }

func (h *loopHarness) logged(sub string) bool {
	for _, l := range h.log {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func (h *loopHarness) requireLogged(sub string) {
	h.t.Helper()
	require.True(h.t, h.logged(sub), "log has no %q:\n%s", sub, strings.Join(h.log, "\n"))
}

// running starts generation 1 and lets Interval pass.
func (h *loopHarness) running() {
	h.s.startWorker(h.now)
	h.requireLogged("starting new worker 1001")
	h.advance(time.Second)
	require.Equal(h.t, "1:1001\n", h.statusFile())
}

var term = []syscall.Signal{syscall.SIGTERM}

func TestLoopHUPIntervalThenKillOldDelay(t *testing.T) {
	h := newLoop(t, func(c *Config) { c.KillOldDelay = 2 * time.Second })
	h.s.startWorker(h.now)
	assert.Equal(t, "<none>", h.statusFile(), "not listed before it is judged running")
	h.advance(999 * time.Millisecond)
	assert.Equal(t, "<none>", h.statusFile())
	h.advance(time.Millisecond)
	assert.Equal(t, "1:1001\n", h.statusFile())
	h.requireLogged("new worker 1001 is now running")

	h.s.onSignal(syscall.SIGHUP, h.now)
	h.requireLogged("received HUP, spawning a new worker")
	h.requireLogged("starting new worker 1002")
	assert.Equal(t, "1:1001\n", h.statusFile(), "the new one is not listed while judged")
	h.advance(999 * time.Millisecond)
	assert.False(t, h.logged("new worker is now running"))
	h.advance(time.Millisecond)
	h.requireLogged("new worker is now running, sending TERM to old workers:1001")
	h.requireLogged("sleeping 2 secs before killing old workers")
	assert.Equal(t, "1:1001\n2:1002\n", h.statusFile())
	h.advance(2*time.Second - time.Millisecond)
	assert.Empty(t, h.sig(1), "not before KillOldDelay")
	h.advance(time.Millisecond)
	assert.Equal(t, term, h.sig(1))
	h.requireLogged("killing old workers")
	h.exit(1, 0)
	h.requireLogged("old worker 1001 died, status:0")
	assert.Equal(t, "2:1002\n", h.statusFile())
	assert.Empty(t, h.sig(2))
}

func TestLoopREADYPromotesAtOnce(t *testing.T) {
	h := newLoop(t, func(c *Config) { c.SignalOnHUP = syscall.SIGUSR1 })
	h.running()
	h.s.onSignal(syscall.SIGHUP, h.now)
	h.advance(25 * time.Millisecond)
	h.ready(2)
	h.requireLogged("new worker 1002 is ready (READY=1 after 25ms)")
	h.requireLogged("new worker is now running, sending USR1 to old workers:1001")
	assert.Equal(t, []syscall.Signal{syscall.SIGUSR1}, h.sig(1), "signalled at READY, not after Interval")
	assert.Equal(t, "1:1001\n2:1002\n", h.statusFile())
	// Late messages change nothing.
	h.ready(2)
	h.ready(1)
	h.advance(time.Second)
	assert.Equal(t, []syscall.Signal{syscall.SIGUSR1}, h.sig(1))
	assert.Equal(t, 2, h.started())
}

func TestLoopFailedStartsKeepOldAndBackOff(t *testing.T) {
	h := newLoop(t, nil)
	h.running()
	h.s.onSignal(syscall.SIGHUP, h.now)
	h.advance(300 * time.Millisecond)
	h.exit(2, 1)
	h.requireLogged("new worker 1002 seems to have failed to start, exit status:256")
	h.requireLogged("worker 1002: exit code 1")
	h.requireLogged("retrying in 1s")
	assert.Equal(t, "1:1001\n", h.statusFile())
	b, err := os.ReadFile(failedFile(h.status))
	require.NoError(t, err)
	assert.Equal(t, "2 exit status:256 (exit code 1)\n", string(b))

	h.advance(999 * time.Millisecond)
	assert.Equal(t, 2, h.started(), "no retry before the backoff")
	h.advance(time.Millisecond)
	assert.Equal(t, 3, h.started(), "generation 3: failed attempts count")
	h.killedBy(3, syscall.SIGSEGV)
	h.requireLogged("new worker 1003 seems to have failed to start, exit status:11")
	h.requireLogged("worker 1003: killed by SIGSEGV")
	h.requireLogged("retrying in 2s")
	h.advance(1999 * time.Millisecond)
	assert.Equal(t, 3, h.started())
	h.advance(time.Millisecond)
	assert.Equal(t, 4, h.started())
	h.exit(4, 2)
	h.requireLogged("retrying in 4s")
	h.advance(4 * time.Second)
	assert.Equal(t, 5, h.started())
	assert.Empty(t, h.sig(1), "the old generation served throughout")

	h.advance(time.Second) // generation 5 survives Interval
	assert.Equal(t, term, h.sig(1))
	assert.Equal(t, "1:1001\n5:1005\n", h.statusFile())
	_, err = os.Stat(failedFile(h.status))
	assert.ErrorIs(t, err, os.ErrNotExist, "marker removed once a worker runs")
	assert.Equal(t, 0, h.s.failures)

	// The backoff doubles up to 30s.
	var got []time.Duration
	for n := 1; n <= 7; n++ {
		got = append(got, h.s.backoff(n))
	}
	assert.Equal(t, []time.Duration{1e9, 2e9, 4e9, 8e9, 16e9, 30e9, 30e9}, got)
}

func TestLoopStartErrorCountsAsFailedStart(t *testing.T) {
	h := newLoop(t, nil)
	h.failGens[1] = true
	h.s.startWorker(h.now)
	h.requireLogged("failed to start worker (generation 1): fork: resource temporarily unavailable")
	h.requireLogged("retrying in 1s")
	h.advance(time.Second)
	assert.Equal(t, 1, h.started())
	assert.NotNil(t, h.procs[2], "the retry is generation 2")
}

func TestLoopReadyTimeout(t *testing.T) {
	h := newLoop(t, func(c *Config) { c.ReadyTimeout = 5 * time.Second; c.KillTimeout = 3 * time.Second })
	h.s.startWorker(h.now)
	h.advance(2 * time.Second)
	assert.Equal(t, "<none>", h.statusFile(), "with ReadyTimeout, surviving Interval is not enough")
	h.ready(1)
	assert.Equal(t, "1:1001\n", h.statusFile())

	h.s.onSignal(syscall.SIGHUP, h.now)
	h.advance(5*time.Second - time.Millisecond)
	assert.Empty(t, h.sig(2))
	h.advance(time.Millisecond)
	h.requireLogged("new worker 1002 seems to have failed to start: no READY=1 within 5s, sending TERM")
	assert.Equal(t, term, h.sig(2))
	assert.Empty(t, h.sig(1), "old keeps serving")
	h.advance(time.Second)
	assert.Equal(t, 3, h.started(), "retried after 1s")
	h.ready(2) // too late: it is being killed
	h.advance(2 * time.Second)
	assert.Equal(t, []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}, h.sig(2), "KillTimeout after the TERM")
	h.requireLogged("worker 1002 did not exit within 3s of SIGTERM, sending SIGKILL")
	h.killedBy(2, syscall.SIGKILL)
	h.ready(3)
	assert.Equal(t, term, h.sig(1))
	assert.Equal(t, "1:1001\n3:1003\n", h.statusFile())
}

func TestLoopUnexpectedDeathRestartsWithBackoff(t *testing.T) {
	h := newLoop(t, nil)
	h.running()
	h.exit(1, 1)
	h.requireLogged("worker 1001 died unexpectedly with status:256, restarting")
	assert.Equal(t, "", h.statusFile())
	assert.Equal(t, 2, h.started(), "first death: restarted at once")
	h.advance(time.Second)
	assert.Equal(t, "2:1002\n", h.statusFile())
	h.advance(5 * time.Second)
	h.exit(2, 1) // again, soon after running
	assert.Equal(t, 2, h.started())
	h.requireLogged("worker died 2 times in a row; next start in 1s")
	h.advance(time.Second)
	assert.Equal(t, 3, h.started())
	h.advance(time.Second)
	h.exit(3, 1)
	h.requireLogged("worker died 3 times in a row; next start in 2s")
	h.advance(2 * time.Second)
	assert.Equal(t, 4, h.started())
	h.advance(time.Second)
	// A worker that ran longer than backoffMax resets the count.
	h.advance(40 * time.Second)
	h.exit(4, 0)
	assert.Equal(t, 5, h.started(), "restarted at once after a long run")
}

func TestLoopKillTimeout(t *testing.T) {
	h := newLoop(t, nil)
	h.running()
	h.s.onSignal(syscall.SIGHUP, h.now)
	h.advance(time.Second)
	assert.Equal(t, term, h.sig(1))
	h.advance(30*time.Second - time.Millisecond)
	assert.Equal(t, term, h.sig(1))
	h.advance(time.Millisecond)
	assert.Equal(t, []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}, h.sig(1))
	h.requireLogged("worker 1001 did not exit within 30s of SIGTERM, sending SIGKILL")
	h.advance(time.Hour)
	assert.Len(t, h.sig(1), 2, "SIGKILL once")

	h2 := newLoop(t, func(c *Config) { c.KillTimeout = -1 })
	h2.running()
	h2.s.onSignal(syscall.SIGHUP, h2.now)
	h2.advance(time.Hour)
	assert.Equal(t, term, h2.sig(1), "negative KillTimeout: never SIGKILL")
}

func TestLoopTERMForwardsAndFinishes(t *testing.T) {
	h := newLoop(t, func(c *Config) { c.SignalOnTERM = syscall.SIGQUIT; c.KillOldDelay = 10 * time.Second })
	h.running()
	h.s.onSignal(syscall.SIGHUP, h.now)
	h.advance(time.Second) // 2 runs, 1 waits for KillOldDelay
	h.s.onSignal(syscall.SIGHUP, h.now)
	require.Equal(t, 3, h.started())
	h.s.onSignal(syscall.SIGTERM, h.now)
	h.requireLogged("received TERM, sending QUIT to all workers:1001,1002,1003")
	for g := 1; g <= 3; g++ {
		assert.Equal(t, []syscall.Signal{syscall.SIGQUIT}, h.sig(g))
	}
	h.s.onSignal(syscall.SIGHUP, h.now)
	h.requireLogged("received HUP while shutting down, ignored")
	h.advance(5 * time.Second)
	assert.Equal(t, 3, h.started(), "nothing starts during shutdown")
	assert.False(t, h.s.finished())
	h.exit(3, 0)
	h.exit(1, 0)
	h.requireLogged("worker 1001 died, status:0")
	assert.Equal(t, "2:1002\n", h.statusFile())
	assert.False(t, h.s.finished())
	h.exit(2, 0)
	assert.True(t, h.s.finished())
	assert.Equal(t, "", h.statusFile())
	assert.Equal(t, []string{
		"READY=1\nSTATUS=generation 1 (pid 1001) running",
		"READY=1\nSTATUS=generation 2 (pid 1002) running",
		"STOPPING=1",
	}, h.up, "the starter's own NOTIFY_SOCKET")

	// INT sends TERM, whatever SignalOnTERM says (as Perl).
	h = newLoop(t, func(c *Config) { c.SignalOnTERM = syscall.SIGQUIT })
	h.running()
	h.s.onSignal(syscall.SIGINT, h.now)
	h.requireLogged("received INT, sending TERM to all workers:1001")
	assert.Equal(t, term, h.sig(1))
	h.advance(30 * time.Second)
	assert.Equal(t, []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}, h.sig(1), "KillTimeout applies at shutdown")
}

// An old worker already draining after SignalOnHUP is not sent the same
// signal again at shutdown: to a draining worker a second SIGTERM means
// "hurry, cut the connections" (Ctrl-C twice), which would cut its requests.
func TestLoopTERMDoesNotResignalDrainingWorkers(t *testing.T) {
	h := newLoop(t, nil)
	h.running()
	h.s.onSignal(syscall.SIGHUP, h.now)
	h.ready(2)
	require.Equal(t, term, h.sig(1), "old worker signalled once on HUP")
	h.s.onSignal(syscall.SIGTERM, h.now)
	assert.Equal(t, term, h.sig(1), "not signalled again while it drains")
	assert.Equal(t, term, h.sig(2), "the current worker is told to stop")
	h.requireLogged("received TERM, sending TERM to all workers:1001,1002")

	// A different stop signal is still sent: USR1 on HUP, TERM on shutdown.
	h = newLoop(t, func(c *Config) { c.SignalOnHUP = syscall.SIGUSR1 })
	h.running()
	h.s.onSignal(syscall.SIGHUP, h.now)
	h.ready(2)
	h.s.onSignal(syscall.SIGTERM, h.now)
	assert.Equal(t, []syscall.Signal{syscall.SIGUSR1, syscall.SIGTERM}, h.sig(1))
}

// Signals that arrived while Run was setting up wait in sigC: a TERM
// there means no worker is started at all; a HUP is coalesced with the
// first start instead of queueing a second one.
func TestLoopSignalsBeforeFirstStart(t *testing.T) {
	h := newLoop(t, nil)
	sigC := make(chan os.Signal, 2)
	sigC <- syscall.SIGHUP
	sigC <- syscall.SIGTERM
	h.s.handleEarlySignals(sigC, h.now)
	assert.True(t, h.s.finished(), "TERM before the first start: nothing to wait for")
	h.requireLogged("received TERM, sending TERM to all workers:none")
	assert.Equal(t, 0, h.started())

	h = newLoop(t, nil)
	sigC <- syscall.SIGHUP
	h.s.handleEarlySignals(sigC, h.now)
	h.requireLogged("received HUP before the first worker was started")
	h.running()
	h.advance(10 * time.Second)
	assert.Equal(t, 1, h.started(), "the HUP was the first start, not another restart")
	assert.False(t, h.s.finished())
}

func TestLoopHUPWhileStartingQueues(t *testing.T) {
	h := newLoop(t, nil)
	h.running()
	h.s.onSignal(syscall.SIGHUP, h.now)
	h.s.onSignal(syscall.SIGHUP, h.now)
	h.s.onSignal(syscall.SIGHUP, h.now)
	assert.Equal(t, 2, h.started(), "one new worker at a time")
	h.requireLogged("new worker 1002 is still starting; another one will follow once it runs")
	h.advance(time.Second)
	assert.Equal(t, term, h.sig(1))
	assert.Equal(t, 3, h.started(), "the queued restart follows at once")
	h.advance(time.Second)
	assert.Equal(t, term, h.sig(2))
	assert.Equal(t, 3, h.started(), "three HUPs while starting coalesce into one")
}

func TestLoopHUPWhileStartingThenFailureStartsNow(t *testing.T) {
	h := newLoop(t, nil)
	h.running()
	h.s.onSignal(syscall.SIGHUP, h.now)
	h.s.onSignal(syscall.SIGHUP, h.now) // queued behind generation 2
	h.exit(2, 1)
	assert.Equal(t, 3, h.started(), "the queued restart does not wait for the backoff")
	h.advance(time.Second)
	assert.Equal(t, term, h.sig(1))
	assert.Equal(t, 3, h.started())
}

func TestLoopHUPDuringBackoffStartsNow(t *testing.T) {
	h := newLoop(t, nil)
	h.running()
	for g := 2; g <= 5; g++ { // four failures: the next retry is 8s away
		h.s.onSignal(syscall.SIGHUP, h.now)
		h.exit(g, 1)
	}
	h.requireLogged("retrying in 8s")
	h.s.onSignal(syscall.SIGHUP, h.now)
	assert.Equal(t, 6, h.started(), "a HUP does not wait for the backoff")
}

func TestLoopAutoRestart(t *testing.T) {
	h := newLoop(t, func(c *Config) {
		c.AutoRestart, c.AutoRestartInterval, c.KillOldDelay, c.KillTimeout = true, 10*time.Second, 5*time.Second, -1
	})
	h.running()
	h.advance(10*time.Second - time.Millisecond)
	assert.Equal(t, 1, h.started())
	h.advance(time.Millisecond)
	h.requireLogged("autorestart triggered (interval=10)")
	assert.Equal(t, 2, h.started())
	h.advance(time.Second)
	h.advance(5 * time.Second)
	assert.Equal(t, term, h.sig(1), "old signalled after KillOldDelay")
	// Worker 1 ignores the TERM: the next auto-restart waits for it, and
	// is forced at twice the interval.
	h.advance(10 * time.Second)
	assert.Equal(t, 2, h.started(), "an old worker is left: wait")
	h.advance(10 * time.Second)
	h.requireLogged("autorestart triggered (forced, interval=10)")
	assert.Equal(t, 3, h.started())
}

// TestLoopRun checks the select loop itself: real channels and timers,
// fake processes. Interval is a minute, so only READY=1 messages promote
// workers here; each message is sent only once its generation has been
// started (a message for a generation that does not exist yet is dropped).
func TestLoopRun(t *testing.T) {
	h := newLoop(t, func(c *Config) { c.Interval, c.KillTimeout = time.Minute, time.Minute })
	h.s.backoffMin = time.Millisecond
	// The harness, made safe for the loop's goroutine: a real clock, and
	// procs and log guarded by mu.
	var mu sync.Mutex
	procs := h.procs
	s := h.s
	s.os.now = time.Now
	s.logf = func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		h.log = append(h.log, fmt.Sprintf(f, a...))
	}
	start := s.os.start
	s.os.start = func(gen int) (process, error) {
		mu.Lock()
		defer mu.Unlock()
		return start(gen)
	}
	sigC := make(chan os.Signal, 1)
	exitC := make(chan exitEvent, 1)
	notifyC := make(chan notifyEvent, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	doneC := make(chan struct{})
	go func() { s.loop(ctx, sigC, exitC, notifyC); close(doneC) }()

	// poll waits (10 s at most) until cond holds, checked under mu.
	poll := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			ok := cond()
			mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("timed out waiting for %s; log:\n%s", what, strings.Join(h.log, "\n"))
			}
			time.Sleep(time.Millisecond)
		}
	}
	started := func(gen int) {
		t.Helper()
		poll(fmt.Sprintf("generation %d started", gen), func() bool { return procs[gen] != nil })
	}
	signalled := func(gen int) {
		t.Helper()
		poll(fmt.Sprintf("generation %d signalled", gen), func() bool { return procs[gen] != nil && len(procs[gen].signals()) > 0 })
	}
	logged := func(sub string) {
		t.Helper()
		poll(fmt.Sprintf("log line %q", sub), func() bool {
			return slices.ContainsFunc(h.log, func(l string) bool { return strings.Contains(l, sub) })
		})
	}
	ready := func(gen int) { notifyC <- notifyEvent{gen: gen, msg: notifyMsg{ready: true}} }

	started(1)
	ready(1)
	logged("new worker 1001 is ready (READY=1")
	logged("new worker 1001 is now running")
	sigC <- syscall.SIGHUP
	started(2)
	ready(2)
	logged("new worker 1002 is ready (READY=1")
	signalled(1)
	exitC <- exitEvent{pid: 1001}
	logged("old worker 1001 died")
	sigC <- syscall.SIGHUP
	started(3)
	ready(3)
	logged("new worker 1003 is ready (READY=1")
	signalled(2)
	cancel() // counts as TERM
	signalled(3)
	exitC <- exitEvent{pid: 1002}
	exitC <- exitEvent{pid: 1003}
	select {
	case <-doneC:
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after every worker exited")
	}
	assert.Contains(t, strings.Join(h.log, "\n"), "received TERM, sending TERM to all workers:1002,1003")
}

// A start that fails in the start path itself (the exec shim cannot be
// started) is logged once and not retried: the old generation keeps
// serving, no retry is scheduled, and the next HUP tries again.
func TestLoopStartPathFailureNotRetried(t *testing.T) {
	h := newLoop(t, nil)
	h.s.startWorker(h.now)
	h.advance(time.Second)
	h.requireLogged("new worker 1001 is now running")
	h.startErr = fmt.Errorf("start the exec shim /x: %w: no such file", errStartPath)
	h.s.onSignal(syscall.SIGHUP, h.now)
	assert.Equal(t, 2, h.calls)
	h.requireLogged("failed to start worker (generation 2): start the exec shim /x: the start path failed: no such file; not retrying until the next HUP")
	_, ok := h.s.nextDeadline()
	assert.False(t, ok, "nothing scheduled")
	h.advance(time.Hour)
	assert.Equal(t, 2, h.calls, "not retried")
	assert.Same(t, h.procs[1], h.s.current.proc, "the old generation still serves")
	gen, _, ok := readFailedFile(h.status)
	assert.True(t, ok && gen == 2, "Restart hears of the failure")
	h.startErr = nil
	h.s.onSignal(syscall.SIGHUP, h.now)
	assert.Equal(t, 3, h.calls, "the next HUP tries again")
	h.requireLogged("starting new worker 1003")
}

// Probation: after READY=1 the old generation is kept (not signalled,
// still current) for the probation; a death in it is a failed start; a HUP
// in it waits; the current worker dying in it hands over at once.
func TestLoopProbation(t *testing.T) {
	h := newLoop(t, func(c *Config) { c.Probation = time.Second })
	h.s.startWorker(h.now)
	h.ready(1)
	assert.Equal(t, "1:1001\n", h.statusFile(), "no probation for the first worker: nothing older to keep")

	h.s.onSignal(syscall.SIGHUP, h.now)
	h.advance(10 * time.Millisecond)
	h.ready(2)
	h.requireLogged("new worker 1002 is ready (READY=1 after 10ms); the old generation is signalled after a probation of 1s")
	h.advance(999 * time.Millisecond)
	assert.Empty(t, h.sig(1), "not signalled during the probation")
	assert.Equal(t, "1:1001\n", h.statusFile())
	h.exit(2, 3)
	h.requireLogged("new worker 1002 died 999ms after READY=1, during its probation")
	h.requireLogged("new worker 1002 seems to have failed to start, exit status:768")
	gen, reason, ok := readFailedFile(h.status)
	require.True(t, ok)
	assert.Equal(t, 2, gen)
	assert.Equal(t, "died", reason[:4])
	assert.Empty(t, h.sig(1))
	assert.Same(t, h.procs[1], h.s.current.proc, "the old generation is still current")

	h.s.onSignal(syscall.SIGHUP, h.now) // starts generation 3 now
	h.ready(3)
	h.s.onSignal(syscall.SIGHUP, h.now)
	h.requireLogged("new worker 1003 is still starting; another one will follow once it runs")
	h.advance(time.Second)
	h.requireLogged("new worker is now running, sending TERM to old workers:1001")
	assert.Equal(t, term, h.sig(1))
	h.requireLogged("starting new worker 1004")
	_, _, ok = readFailedFile(h.status)
	assert.False(t, ok, "the marker goes once a worker runs")

	h.ready(4)
	h.exit(3, 1) // the current one dies during 4's probation
	h.requireLogged("worker 1003 died unexpectedly with status:256, restarting")
	h.requireLogged("new worker 1004 is now running")
	assert.Equal(t, 4, h.started(), "no extra start: generation 4 took over")
	assert.Same(t, h.procs[4], h.s.current.proc)
}
