package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"hotdeploy/internal/load"
)

// What an event line says happened.
type evKind int

const (
	evSignal evKind = iota // we signalled the server (SIGHUP, or 01's SIGTERM)
	evStart                // a new process or worker started
	evFirst                // a generation's first response
	evExit                 // an old worker or process (02: image) is gone
	evBuild                // 05: the next version is built
	evDone                 // a restart is done
)

// An event is something that happened during a run, at a time counted
// from the start of the load.
type event struct {
	at      time.Duration
	kind    evKind
	text    string
	printed bool
}

// A meter watches one run: it collects events, knows which old processes
// have exited, and names the generation of each response.
type meter struct {
	out   io.Writer
	start time.Time // the load's start; events count from here

	mu        sync.Mutex
	events    []event
	gone      map[int]bool          // PIDs of old workers or processes known to have exited
	exitAt    map[int]time.Duration // and when we learnt it
	signalled time.Duration         // when the last restart signal was sent

	images atomic.Int64 // 02: "listening on" lines seen, i.e. process images

	pidOrder map[int]int // generation by first appearance of a PID; only the load's Generation callback touches it
}

func newMeter(out io.Writer) *meter {
	return &meter{out: out, start: time.Now(), gone: map[int]bool{}, exitAt: map[int]time.Duration{}, pidOrder: map[int]int{}}
}

func (m *meter) since() time.Duration { return time.Since(m.start) }

func (m *meter) event(k evKind, _ int, format string, args ...any) {
	m.add(event{at: m.since(), kind: k, text: fmt.Sprintf(format, args...)})
}

func (m *meter) add(e event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, e)
	if e.kind == evSignal {
		m.signalled = e.at
	}
}

// lastSignal is when the last restart signal was sent: a restart's time
// counts from there.
func (m *meter) lastSignal() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.signalled
}

// exited records that pid has exited, with how ("" if not known).
func (m *meter) exited(pid int, status string) {
	at := m.since()
	m.mu.Lock()
	already := m.gone[pid]
	if !already {
		m.gone[pid], m.exitAt[pid] = true, at
	}
	m.mu.Unlock()
	switch {
	case already:
	case status == "":
		m.event(evExit, 0, "pid %d is gone (kill -0: no such process)", pid)
	default:
		m.event(evExit, 0, "pid %d exited (%s)", pid, strings.TrimSpace(status))
	}
}

func (m *meter) isGone(pid int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gone[pid]
}

// exitTimes returns when each exited PID was seen gone.
func (m *meter) exitTimes() map[int]time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return copyMap(m.exitAt)
}

func copyMap[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (m *meter) newImage() int64 { return m.images.Add(1) }

// Events returns the events so far, in time order.
func (m *meter) Events() []event {
	m.mu.Lock()
	defer m.mu.Unlock()
	ev := append([]event(nil), m.events...)
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].at < ev[j].at })
	return ev
}

// generation returns the load's Generation callback for a stage of kind k:
// X-Generation where the server sends it, else 01's process (by PID) or
// 02's process image.
func (m *meter) generation(k kind, external bool) func(pid, gen int) int {
	byPID := func(pid int) int {
		if g, ok := m.pidOrder[pid]; ok {
			return g
		}
		g := len(m.pidOrder) + 1
		m.pidOrder[pid] = g
		return g
	}
	switch {
	case external:
		return func(pid, gen int) int {
			if gen != 0 {
				return gen
			}
			return byPID(pid)
		}
	case k == stopStart:
		return func(pid, _ int) int { return byPID(pid) }
	case k == reExec:
		return func(int, int) int { return int(m.images.Load()) }
	}
	return nil // X-Generation
}

// oldGone reports whether every process that served a generation before g
// has exited (or, for 02, has been replaced by exec), and if not, why. A
// process with PID skip (the master or starter of an external server) is
// not a worker and never counts. poll: check with kill(pid, 0) instead of
// waiting for a log line (a server we did not start).
func (m *meter) oldGone(k kind, pidGen map[int]int, g, skip int, poll bool) (bool, string) {
	switch k {
	case stopStart:
		return true, ""
	case reExec:
		if n := m.images.Load(); n < int64(g) {
			return false, fmt.Sprintf("the process has not exec'd image %d yet", g)
		}
		return true, ""
	}
	var running []string
	for pid, pg := range pidGen {
		if pg >= g || pid == skip || m.isGone(pid) {
			continue
		}
		if poll {
			if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
				m.exited(pid, "")
				continue
			}
		}
		running = append(running, strconv.Itoa(pid))
	}
	if len(running) > 0 {
		sort.Strings(running)
		return false, fmt.Sprintf("old worker pid %s still running", strings.Join(running, ", "))
	}
	return true, ""
}

// progress is what drive watches in a run: when it ends, and whether the
// newest generation is ready (HTTP: it served o.perGen responses; streams:
// every client is connected to it).
type progress struct {
	done <-chan struct{}
	noun string // what a generation serves first: "response", "connection"
	// ready returns the newest generation seen (0: none yet), whether it
	// is ready, and its state: why not, or what it did.
	ready   func() (g int, ok bool, state string)
	oldGone func(g int) (bool, string)
}

// drive runs the restarts on a run that has started: it waits until the
// first generation is ready, holds, then for each restart asks for it and
// waits until it is done: a newer generation than the last one is ready
// and the processes of the older ones have exited. Then it holds again.
// Generations are not assumed to count from 1 or by one (a server that
// was restarted before, a worker that died and was replaced).
func drive(ctx context.Context, pr progress, m *meter, o options, restart func() error) error {
	var why string
	cur := 0
	if err := waitUntil(ctx, pr.done, o.timeout, func() bool {
		g, ok, state := pr.ready()
		cur, why = g, state
		return g > 0 && ok
	}); err != nil {
		return fmt.Errorf("before the first restart: %w: %s", err, why)
	}
	if err := hold(ctx, pr.done, o.hold); err != nil {
		return err
	}
	for i := 1; i <= o.restarts; i++ {
		if err := restart(); err != nil {
			return fmt.Errorf("restart %d: %w", i, err)
		}
		prev := cur
		var did string
		err := waitUntil(ctx, pr.done, o.timeout, func() bool {
			g, ok, state := pr.ready()
			if g <= prev {
				why = fmt.Sprintf("no %s from a new generation (still %d): the restart did not happen", pr.noun, prev)
				return false
			}
			cur = g
			if !ok {
				why = state
				return false
			}
			did = state
			ok, why = pr.oldGone(g)
			return ok
		})
		if err != nil {
			return fmt.Errorf("restart %d: %w: %s", i, err, why)
		}
		m.event(evDone, 0, "restart %d done in %.3fs: generation %d %s, the old ones are gone", i, (m.since() - m.lastSignal()).Seconds(), cur, did)
		if err := hold(ctx, pr.done, o.hold); err != nil {
			return err
		}
	}
	return nil
}

// httpProgress watches an HTTP load run.
func httpProgress(run *load.Run, o options, oldGone func(pidGen map[int]int, g int) (bool, string)) progress {
	return progress{done: run.Done(), noun: "response",
		ready: func() (int, bool, string) {
			r := run.Snapshot()
			g := newest(r.ByGen)
			if g > 0 && r.ByGen[g] >= o.perGen {
				return g, true, fmt.Sprintf("served %d", o.perGen)
			}
			return g, false, fmt.Sprintf("generation %d served %d of %d responses; errors %v", g, r.ByGen[g], o.perGen, r.Errors)
		},
		oldGone: func(g int) (bool, string) { return oldGone(run.Snapshot().PIDGen, g) },
	}
}

// newest is the highest generation in byGen, 0 if none.
func newest(byGen map[int]int) int {
	g := 0
	for k, n := range byGen {
		if n > 0 {
			g = max(g, k)
		}
	}
	return g
}

// waitUntil polls cond until it holds. It fails after timeout, when the
// run ends (done), or when ctx is done.
func waitUntil(ctx context.Context, done <-chan struct{}, timeout time.Duration, cond func() bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			if cond() {
				return nil
			}
			return errors.New("the load ended (its time bound)")
		case <-deadline.C:
			return fmt.Errorf("not done within %v", timeout)
		case <-tick.C:
		}
	}
}

// hold keeps the load running for d.
func hold(ctx context.Context, done <-chan struct{}, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-done:
		return errors.New("the load ended (its time bound)")
	case <-t.C:
		return nil
	}
}

// result is one measured run: what the clients saw, what happened, and the
// series the chart is drawn from.
type result struct {
	title    string
	report   load.Report
	events   []event
	samples  []sample
	restarts int
	clients  int

	// Streams (-proto other than http).
	streams            *load.StreamReport
	exits              map[int]time.Duration // PID -> when it was seen gone
	reconnect, connect []time.Duration
	tcp                map[string]int64 // the kernel's TCP counters' increase during the restarts (Linux)
}

// loadConfig is the load for a run of o against addr.
func loadConfig(o options, addr string, ka bool, gen func(pid, gen int) int) load.Config {
	bound := time.Duration(o.restarts+1) * (o.timeout + o.hold)
	return load.Config{Addr: addr, Clients: o.clients, MaxRequests: 1 << 40, MaxDuration: bound,
		KeepAlive: ka, Timeout: 10 * time.Second, Generation: gen}
}

// measure starts the stage, loads it, restarts it o.restarts times, and
// returns what the clients saw. Whatever it started is stopped before it
// returns.
func measure(ctx context.Context, st *stage, tmp string, ka bool, o options) (result, error) {
	m := newMeter(o.out)
	s, err := st.start(tmp, o.timeout, m)
	if err != nil {
		return result{}, err
	}
	s.verbose = o.verbose
	defer s.stop()

	run, err := load.Start(loadConfig(o, s.addr, ka, m.generation(st.kind, false)))
	if err != nil {
		return result{}, err
	}
	defer run.Stop()
	m.start = run.Started()
	if st.kind == reExec {
		m.newImage() // the image we started
	}
	var wg sync.WaitGroup
	stopWatch := make(chan struct{})
	if st.kind != stopStart {
		wg.Add(1)
		go func() {
			defer wg.Done()
			watchLines(s.p, st.kind, m, stopWatch)
		}()
	}
	rec := startRecorder(run, m, o)
	err = drive(ctx, httpProgress(run, o, func(pidGen map[int]int, g int) (bool, string) {
		return m.oldGone(st.kind, pidGen, g, s.p.PID(), false)
	}), m, o, func() error { return st.restart(s, o.timeout, m) })
	rep := run.Stop()
	samples := rec.stop()
	close(stopWatch)
	wg.Wait()
	if err != nil {
		return result{}, err
	}
	return result{title: fmt.Sprintf("%s, keep-alive %s", st.src, onOff(ka)), report: rep, events: m.Events(),
		samples: samples, restarts: o.restarts, clients: o.clients}, nil
}

// measureExternal loads a server we did not start, at o.addr, and sends
// its restarts (SIGHUP) to o.pid. Old workers are the PIDs that served
// earlier generations; a restart is done when they are gone.
func measureExternal(ctx context.Context, o options) (result, error) {
	m := newMeter(o.out)
	ka := o.keepAlive[0]
	fmt.Fprintf(o.out, "== %s (pid %d), %d clients, keep-alive %v, %d restarts\n", o.addr, o.pid, o.clients, onOff(ka), o.restarts)
	run, err := load.Start(loadConfig(o, o.addr, ka, m.generation(master, true)))
	if err != nil {
		return result{}, err
	}
	defer run.Stop()
	m.start = run.Started()
	rec := startRecorder(run, m, o)
	err = drive(ctx, httpProgress(run, o, func(pidGen map[int]int, g int) (bool, string) {
		return m.oldGone(master, pidGen, g, o.pid, true)
	}), m, o, func() error { return signalExternal(m, o.pid) })
	rep := run.Stop()
	samples := rec.stop()
	if err != nil {
		return result{}, err
	}
	return result{title: fmt.Sprintf("%s (pid %d), keep-alive %s", o.addr, o.pid, onOff(ka)), report: rep,
		events: m.Events(), samples: samples, restarts: o.restarts, clients: o.clients}, nil
}

// signalExternal sends the restart signal to an external server's PID.
func signalExternal(m *meter, pid int) error {
	m.event(evSignal, 0, "SIGHUP → pid %d", pid)
	return syscall.Kill(pid, syscall.SIGHUP)
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
