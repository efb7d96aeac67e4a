package starter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// wstate is where a worker is in its life (docs/sequence.md draws it):
//
//	starting ──READY=1 (nothing older runs, or no probation), or alive at judgeAt──▶ current
//	starting ──judgeAt with ReadyTimeout (no READY=1 in time): a failed start──▶ signalled
//	starting ──READY=1──▶ probation ──alive at probationEnd──▶ current
//	current ──a newer one became current──▶ old ──signalAt──▶ signalled ──killAt──▶ SIGKILL
//
// A worker leaves the list when it is reaped, in any state; a starting or
// probation worker that exits is a failed start, and the generation before
// it stays current.
type wstate int

const (
	stStarting  wstate = iota // started, not yet judged running: judgeAt
	stProbation               // sent READY=1; the old generation stays current until probationEnd
	stCurrent                 // running: the generation that serves
	stOld                     // replaced by a newer one; signalled at signalAt
	stSignalled               // sent its stop signal; SIGKILL at killAt
)

// worker is the supervisor's record of one started worker, from start until
// it has been reaped.
type worker struct {
	gen          int
	proc         process
	state        wstate
	startedAt    time.Time
	judgeAt      time.Time // stStarting: Interval (or ReadyTimeout) runs out
	readyAt      time.Time // stProbation: when READY=1 arrived
	probationEnd time.Time // stProbation: promoted then
	runningAt    time.Time // when judged running; zero = never (not in the status file)
	signalAt     time.Time // stOld: when to send SignalOnHUP
	stopSig      syscall.Signal
	killAt       time.Time // stSignalled: SIGKILL then; zero = never
	killed       bool      // SIGKILL sent
}

// supervisor is the state of start_server's event loop. Exactly one
// goroutine (the one in loop) calls its methods; nothing in it is locked.
//
// Its event methods (onSignal, onExit, onNotify, onTimer) take the current
// time as an argument and never block, so tests drive it step by step with
// fake processes and a fake clock.
type supervisor struct {
	cfg        Config        // withDefaults applied
	backoffMin time.Duration // first retry delay after a failure
	backoffMax time.Duration // cap; also the window for counting crashes in a row
	os         osSeam
	logf       func(format string, args ...any)

	workers       []*worker // every live (unreaped) worker, by generation
	gen           int       // last generation started
	pending       *worker   // the new worker being judged, if any
	current       *worker   // the running generation, if any
	retryAt       time.Time // a start is scheduled then (backoff); zero = none
	failures      int       // failed starts in a row
	crashes       int       // unexpected deaths in a row (each within backoffMax of running)
	queued        bool      // a restart was asked for while pending was judged
	autoRestartAt time.Time
	stopping      bool
}

// loop is the event loop: it handles the signals already waiting (handleEarlySignals),
// starts the first worker unless one of them was TERM or INT, then handles
// signals, worker exits, readiness messages and deadlines, one at a time, until a
// shutdown (TERM, INT, or ctx cancelled, which counts as TERM) has reaped
// every worker. It blocks until then. The channels belong to the caller;
// loop only receives from them.
func (s *supervisor) loop(ctx context.Context, sigC <-chan os.Signal, exitC <-chan exitEvent, notifyC <-chan notifyEvent) {
	s.handleEarlySignals(sigC, s.os.now())
	if !s.stopping {
		s.startWorker(s.os.now())
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	ctxDone := ctx.Done()
	for !s.finished() {
		var timerC <-chan time.Time
		if at, ok := s.nextDeadline(); ok {
			timer.Reset(max(0, at.Sub(s.os.now())))
			timerC = timer.C
		}
		select {
		case sig := <-sigC:
			if ss, ok := sig.(syscall.Signal); ok {
				s.onSignal(ss, s.os.now())
			}
		case ev := <-exitC:
			s.onExit(ev.pid, ev.status, s.os.now())
		case ev := <-notifyC:
			s.onNotify(ev, s.os.now())
		case <-timerC:
			s.onTimer(s.os.now())
		case <-ctxDone:
			ctxDone = nil
			s.shutdown(syscall.SIGTERM, s.os.now())
		}
		timer.Stop()
	}
}

// handleEarlySignals handles the signals that are already waiting in sigC before the
// first worker is started (they arrived while Run was setting up): TERM and
// INT shut down, so that no worker is started at all; a HUP is coalesced
// with the first start, which runs the current code anyway. It does not
// block.
func (s *supervisor) handleEarlySignals(sigC <-chan os.Signal, now time.Time) {
	for {
		select {
		case sig := <-sigC:
			switch sig {
			case syscall.SIGHUP:
				if !s.stopping {
					s.logf("received HUP before the first worker was started; starting it is the restart")
				}
			case syscall.SIGTERM, syscall.SIGINT:
				s.shutdown(sig.(syscall.Signal), now)
			}
		default:
			return
		}
	}
}

// finished reports whether the loop is done: shutting down and every
// worker reaped.
func (s *supervisor) finished() bool { return s.stopping && len(s.workers) == 0 }

// onSignal handles a signal to the starter: HUP restarts, TERM and INT
// shut down, anything else is ignored.
func (s *supervisor) onSignal(sig syscall.Signal, now time.Time) {
	switch sig {
	case syscall.SIGHUP:
		if s.stopping {
			s.logf("received HUP while shutting down, ignored")
			return
		}
		s.logf("received HUP, spawning a new worker")
		s.restart(now)
	case syscall.SIGTERM, syscall.SIGINT:
		s.shutdown(sig, now)
	}
}

// restart starts a new generation now. If one is already being judged,
// another restart follows as soon as it runs (a HUP is never lost). A
// scheduled retry is replaced: a HUP means "try now".
func (s *supervisor) restart(now time.Time) {
	if s.pending != nil {
		s.queued = true
		s.logf("new worker %d is still starting; another one will follow once it runs", s.pending.proc.Pid())
		return
	}
	s.retryAt = time.Time{}
	s.autoRestartAt = time.Time{}
	s.startWorker(now)
}

// startWorker starts the next generation and makes it the pending one.
func (s *supervisor) startWorker(now time.Time) {
	s.gen++
	p, err := s.os.start(s.gen)
	if err != nil {
		s.writeFailed(s.gen, err.Error())
		if errors.Is(err, errStartPath) {
			s.queued = false
			s.logf("failed to start worker (generation %d): %v; not retrying until the next HUP", s.gen, err)
			return
		}
		s.logf("failed to start worker (generation %d): %v", s.gen, err)
		s.failedStart(now)
		return
	}
	w := &worker{gen: s.gen, proc: p, state: stStarting, startedAt: now}
	if s.cfg.ReadyTimeout > 0 {
		w.judgeAt = now.Add(s.cfg.ReadyTimeout)
	} else {
		w.judgeAt = now.Add(s.cfg.Interval)
	}
	s.workers = append(s.workers, w)
	s.pending = w
	s.logf("starting new worker %d", p.Pid())
}

// failedStart counts a failed start and schedules the next attempt with
// exponential backoff — or at once if a restart was asked for while the
// failed worker was being judged. The running generation, if any, keeps
// serving.
func (s *supervisor) failedStart(now time.Time) {
	s.failures++
	if s.queued {
		s.queued = false
		s.logf("starting the restart that was asked for meanwhile")
		s.startWorker(now)
		return
	}
	d := s.backoff(s.failures)
	s.retryAt = now.Add(d)
	s.logf("retrying in %v (%d failed start(s) in a row)", d, s.failures)
}

// writeFailed writes the failure marker for Restart (see failedFile),
// before the failure is logged, so that the log line means "recorded".
func (s *supervisor) writeFailed(gen int, reason string) {
	if s.cfg.StatusFile == "" {
		return
	}
	if err := writeAtomic(failedFile(s.cfg.StatusFile), fmt.Sprintf("%d %s\n", gen, reason)); err != nil {
		s.logf("%v", err)
	}
}

// backoff is the delay before attempt n+1 after n failures: backoffMin
// doubling, at most backoffMax.
func (s *supervisor) backoff(n int) time.Duration {
	d := s.backoffMin
	for i := 1; i < n && d < s.backoffMax; i++ {
		d *= 2
	}
	return min(d, s.backoffMax)
}

// onNotify handles a NOTIFY_SOCKET message from worker generation ev.gen.
func (s *supervisor) onNotify(ev notifyEvent, now time.Time) {
	i := slices.IndexFunc(s.workers, func(w *worker) bool { return w.gen == ev.gen })
	if i < 0 {
		return
	}
	w := s.workers[i]
	if ev.msg.status != "" {
		s.logf("worker %d status: %s", w.proc.Pid(), ev.msg.status)
	}
	if ev.msg.stopping {
		s.logf("worker %d is stopping", w.proc.Pid())
	}
	if ev.msg.ready && w == s.pending && !s.stopping && w.state == stStarting {
		took := now.Sub(w.startedAt).Round(time.Millisecond)
		if s.current == nil || s.cfg.Probation <= 0 {
			s.logf("new worker %d is ready (READY=1 after %v)", w.proc.Pid(), took)
			s.promote(now)
			return
		}
		// Probation: the new worker serves from now on (it accepts on the
		// shared sockets), but the old generation stays current, and is
		// not signalled, until the new one has stayed alive this long.
		w.state, w.readyAt, w.probationEnd = stProbation, now, now.Add(s.cfg.Probation)
		s.logf("new worker %d is ready (READY=1 after %v); the old generation is signalled after a probation of %v",
			w.proc.Pid(), took, s.cfg.Probation)
	}
}

// promote makes the pending worker the running generation and schedules
// the signal to the one it replaces after KillOldDelay.
func (s *supervisor) promote(now time.Time) {
	w := s.pending
	s.pending = nil
	w.state, w.runningAt = stCurrent, now
	prev := s.current
	s.current = w
	s.failures = 0
	if s.cfg.StatusFile != "" {
		os.Remove(failedFile(s.cfg.StatusFile))
	}
	s.writeStatus() // before the log lines, so that they mean "done"
	if prev != nil {
		prev.state, prev.signalAt = stOld, now.Add(s.cfg.KillOldDelay)
		var old []*worker
		for _, o := range s.workers {
			if o.state == stOld {
				old = append(old, o)
			}
		}
		s.logf("new worker is now running, sending %s to old workers:%s", signalName(s.cfg.SignalOnHUP), s.pids(old))
		if s.cfg.KillOldDelay > 0 {
			s.logf("sleeping %s secs before killing old workers", secs(s.cfg.KillOldDelay))
		}
	} else {
		s.logf("new worker %d is now running", w.proc.Pid())
	}
	s.notifyUpstream(fmt.Sprintf("READY=1\nSTATUS=generation %d (pid %d) running", w.gen, w.proc.Pid()))
	if s.cfg.AutoRestart {
		s.autoRestartAt = now.Add(s.cfg.AutoRestartInterval)
	}
	s.signalDueOld(now)
	if s.queued {
		s.queued = false
		s.logf("starting the restart that was asked for meanwhile")
		s.startWorker(now)
	}
}

// signalDueOld sends SignalOnHUP to the old workers whose KillOldDelay has
// passed.
func (s *supervisor) signalDueOld(now time.Time) {
	var due []*worker
	for _, w := range s.workers {
		if w.state == stOld && !now.Before(w.signalAt) {
			due = append(due, w)
		}
	}
	if len(due) == 0 {
		return
	}
	s.logf("killing old workers")
	for _, w := range due {
		s.signal(w, s.cfg.SignalOnHUP, now)
	}
}

// signal sends sig to w and starts its KillTimeout.
func (s *supervisor) signal(w *worker, sig syscall.Signal, now time.Time) {
	if err := w.proc.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.logf("failed to send %s to worker %d: %v", signalName(sig), w.proc.Pid(), err)
	}
	w.state, w.stopSig = stSignalled, sig
	if s.cfg.KillTimeout >= 0 {
		if at := now.Add(s.cfg.KillTimeout); w.killAt.IsZero() || at.Before(w.killAt) {
			w.killAt = at
		}
	}
}

// onTimer acts on every deadline that has passed at now.
func (s *supervisor) onTimer(now time.Time) {
	if p := s.pending; p != nil && !s.stopping && p.state == stProbation && !now.Before(p.probationEnd) {
		s.promote(now)
	} else if p != nil && !s.stopping && p.state == stStarting && !now.Before(p.judgeAt) {
		if s.cfg.ReadyTimeout > 0 {
			s.pending = nil
			s.writeFailed(p.gen, "no READY=1 within "+s.cfg.ReadyTimeout.String())
			s.logf("new worker %d seems to have failed to start: no READY=1 within %v, sending TERM", p.proc.Pid(), s.cfg.ReadyTimeout)
			s.signal(p, syscall.SIGTERM, now)
			s.failedStart(now)
		} else {
			s.promote(now)
		}
	}
	if !s.retryAt.IsZero() && !s.stopping && !now.Before(s.retryAt) {
		s.retryAt = time.Time{}
		s.startWorker(now)
	}
	s.signalDueOld(now)
	for _, w := range s.workers {
		if w.state == stSignalled && !w.killed && !w.killAt.IsZero() && !now.Before(w.killAt) {
			s.logf("worker %d did not exit within %v of SIG%s, sending SIGKILL", w.proc.Pid(), s.cfg.KillTimeout, signalName(w.stopSig))
			w.killed = true
			if err := w.proc.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
				s.logf("failed to send KILL to worker %d: %v", w.proc.Pid(), err)
			}
		}
	}
	if s.cfg.AutoRestart && !s.stopping && !s.autoRestartAt.IsZero() && !now.Before(s.autoRestartAt) {
		s.autoRestart(now)
	}
}

// onExit handles the exit of a reaped worker.
func (s *supervisor) onExit(pid int, st exitStatus, now time.Time) {
	i := slices.IndexFunc(s.workers, func(w *worker) bool { return w.proc.Pid() == pid })
	if i < 0 {
		return
	}
	w := s.workers[i]
	s.workers = slices.Delete(s.workers, i, i+1)
	if !w.runningAt.IsZero() {
		s.writeStatus() // before the log line, so that the line means "done"
	}
	// logExit logs a line Perl's start_server prints too, in Perl's exact
	// text (ending in the number), then the readable form on its own line.
	logExit := func(format string) {
		s.logf(format, pid, st)
		if st.raw != 0 {
			s.logf("worker %d: %s", pid, st.text)
		}
	}
	switch {
	case s.stopping:
		logExit("worker %d died, status:%v")
	case w == s.pending:
		s.pending = nil
		reason := "exit status:" + st.detail()
		if w.state == stProbation {
			reason = "died during its probation, " + reason
		}
		s.writeFailed(w.gen, reason)
		if w.state == stProbation {
			s.logf("new worker %d died %v after READY=1, during its probation", pid, now.Sub(w.readyAt).Round(time.Millisecond))
		}
		logExit("new worker %d seems to have failed to start, exit status:%v")
		s.failedStart(now)
	case w == s.current:
		s.current = nil
		logExit("worker %d died unexpectedly with status:%v, restarting")
		if p := s.pending; p != nil && p.state == stProbation {
			// Its probation protected the generation that just died:
			// nothing is left to keep serving, so it takes over now.
			s.promote(now)
			return
		}
		s.crashRestart(now, w)
	default:
		logExit("old worker %d died, status:%v")
	}
}

// crashRestart replaces a current worker that died by itself: at once the
// first time, then with backoff while it keeps dying within backoffMax of
// being judged running. If a new worker is already being judged, it will
// take over and nothing else is started.
func (s *supervisor) crashRestart(now time.Time, w *worker) {
	if s.pending != nil {
		return
	}
	if now.Sub(w.runningAt) < s.backoffMax {
		s.crashes++
	} else {
		s.crashes = 1
	}
	if s.crashes <= 1 {
		s.startWorker(now)
		return
	}
	d := s.backoff(s.crashes - 1)
	s.retryAt = now.Add(d)
	s.logf("worker died %d times in a row; next start in %v", s.crashes, d)
}

// shutdown forwards the stop signal to every worker (SignalOnTERM for TERM,
// TERM for INT, as Perl does) and from now on only waits for them to exit.
func (s *supervisor) shutdown(sig syscall.Signal, now time.Time) {
	if s.stopping {
		s.logf("received %s while shutting down, still waiting for workers:%s", signalName(sig), s.pids(s.workers))
		return
	}
	s.stopping = true
	s.notifyUpstream("STOPPING=1")
	s.retryAt, s.autoRestartAt, s.queued = time.Time{}, time.Time{}, false
	stop := syscall.SIGTERM
	if sig == syscall.SIGTERM {
		stop = s.cfg.SignalOnTERM
	}
	s.logf("received %s, sending %s to all workers:%s", signalName(sig), signalName(stop), s.pids(s.workers))
	for _, w := range s.workers {
		// An old worker draining after that very signal is not sent it
		// again: to a draining worker a second one means "cut the
		// connections now" (Ctrl-C twice). Its KillTimeout still runs.
		if w.state == stSignalled && w.stopSig == stop {
			continue
		}
		s.signal(w, stop, now)
	}
}

// autoRestart is Perl's --enable-auto-restart: restart once the interval has
// passed and no old worker is left; forced at twice the interval. While
// blocked it checks again every second.
func (s *supervisor) autoRestart(now time.Time) {
	iv := s.cfg.AutoRestartInterval
	if s.current == nil || s.pending != nil {
		s.autoRestartAt = time.Time{} // promote sets it again
		return
	}
	oldLeft := len(s.workers) > 1
	switch elapsed := now.Sub(s.current.runningAt); {
	case !oldLeft:
		s.logf("autorestart triggered (interval=%s)", secs(iv))
	case elapsed >= 2*iv:
		s.logf("autorestart triggered (forced, interval=%s)", secs(iv))
	default:
		s.autoRestartAt = now.Add(time.Second)
		if forced := s.current.runningAt.Add(2 * iv); forced.Before(s.autoRestartAt) {
			s.autoRestartAt = forced
		}
		return
	}
	s.restart(now)
}

// nextDeadline is the earliest time onTimer has something to do, if any.
func (s *supervisor) nextDeadline() (time.Time, bool) {
	var at time.Time
	add := func(t time.Time) {
		if !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	if !s.stopping {
		if p := s.pending; p != nil && p.state == stStarting {
			add(p.judgeAt)
		} else if p != nil {
			add(p.probationEnd)
		}
		add(s.retryAt)
		if s.cfg.AutoRestart {
			add(s.autoRestartAt)
		}
	}
	for _, w := range s.workers {
		switch {
		case w.state == stOld:
			add(w.signalAt)
		case w.state == stSignalled && !w.killed:
			add(w.killAt)
		}
	}
	return at, !at.IsZero()
}

// writeStatus rewrites the status file: every worker that was judged
// running and is not yet reaped (the current one and old ones), as Perl
// lists them. Workers still being judged, and failed ones, are not listed.
func (s *supervisor) writeStatus() {
	if s.cfg.StatusFile == "" {
		return
	}
	var entries []statusEntry
	for _, w := range s.workers {
		if !w.runningAt.IsZero() {
			entries = append(entries, statusEntry{gen: w.gen, pid: w.proc.Pid()})
		}
	}
	if err := writeStatusFile(s.cfg.StatusFile, entries); err != nil {
		s.logf("%v", err)
	}
}

// pids formats workers' pids as Perl does after "workers:": "12,34", or
// "none".
func (s *supervisor) pids(ws []*worker) string {
	var ids []string
	for _, w := range slices.SortedFunc(slices.Values(ws), func(a, b *worker) int { return a.proc.Pid() - b.proc.Pid() }) {
		ids = append(ids, strconv.Itoa(w.proc.Pid()))
	}
	return cmp.Or(strings.Join(ids, ","), "none")
}

// notifyUpstream sends msg to the starter's own supervisor (see osSeam.notifyUp).
func (s *supervisor) notifyUpstream(msg string) {
	if s.os.notifyUp != nil {
		s.os.notifyUp(msg)
	}
}

// secs formats a duration as Perl prints seconds: "5", "0.5".
func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
