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
	gone      map[int]bool  // PIDs of old workers or processes known to have exited
	signalled time.Duration // when the last restart signal was sent

	images atomic.Int64 // 02: "listening on" lines seen, i.e. process images

	pidOrder map[int]int // generation by first appearance of a PID; only the load's Generation callback touches it
}

func newMeter(out io.Writer) *meter {
	return &meter{out: out, start: time.Now(), gone: map[int]bool{}, pidOrder: map[int]int{}}
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
	m.mu.Lock()
	already := m.gone[pid]
	m.gone[pid] = true
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
func (m *meter) oldGone(k kind, r load.Report, g, skip int, poll bool) (bool, string) {
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
	for pid, pg := range r.PIDGen {
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

// drive runs the restarts on a run that has started: it waits until the
// first generation has served o.perGen responses, holds, then for each
// restart asks for it and waits until it is done: a newer generation than
// the last one served o.perGen responses and the processes of the older
// ones have exited. Then it holds again. Generations are not assumed to
// count from 1 or by one (a server that was restarted before, a worker that
// died and was replaced).
func drive(ctx context.Context, run *load.Run, m *meter, o options, restart func() error, oldGone func(load.Report, int) (bool, string)) error {
	var why string
	cur := 0
	if err := waitUntil(ctx, run, o.timeout, func(r load.Report) bool {
		cur = newest(r)
		why = fmt.Sprintf("generation %d served %d of %d responses; errors %v", cur, r.ByGen[cur], o.perGen, r.Errors)
		return cur > 0 && r.ByGen[cur] >= o.perGen
	}); err != nil {
		return fmt.Errorf("before the first restart: %w: %s", err, why)
	}
	if err := hold(ctx, run, o.hold); err != nil {
		return err
	}
	for i := 1; i <= o.restarts; i++ {
		if err := restart(); err != nil {
			return fmt.Errorf("restart %d: %w", i, err)
		}
		prev := cur
		err := waitUntil(ctx, run, o.timeout, func(r load.Report) bool {
			g := newest(r)
			if g <= prev {
				why = fmt.Sprintf("no response from a new generation (still %d): the restart did not happen", prev)
				return false
			}
			cur = g
			if r.ByGen[g] < o.perGen {
				why = fmt.Sprintf("generation %d served %d of %d responses", g, r.ByGen[g], o.perGen)
				return false
			}
			ok, w := oldGone(r, g)
			why = w
			return ok
		})
		if err != nil {
			return fmt.Errorf("restart %d: %w: %s", i, err, why)
		}
		m.event(evDone, 0, "restart %d done in %.3fs: generation %d served %d, the old ones are gone", i, (m.since() - m.lastSignal()).Seconds(), cur, o.perGen)
		if err := hold(ctx, run, o.hold); err != nil {
			return err
		}
	}
	return nil
}

// newest is the highest generation that has served, 0 if none.
func newest(r load.Report) int {
	g := 0
	for k := range r.ByGen {
		g = max(g, k)
	}
	return g
}

// waitUntil polls cond on the run's report until it holds. It fails after
// timeout, when the run ends, or when ctx is done.
func waitUntil(ctx context.Context, run *load.Run, timeout time.Duration, cond func(load.Report) bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond(run.Snapshot()) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-run.Done():
			if cond(run.Snapshot()) {
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
func hold(ctx context.Context, run *load.Run, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-run.Done():
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
	err = drive(ctx, run, m, o,
		func() error { return st.restart(s, o.timeout, m) },
		func(r load.Report, g int) (bool, string) { return m.oldGone(st.kind, r, g, s.p.PID(), false) })
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
	err = drive(ctx, run, m, o,
		func() error {
			m.event(evSignal, 0, "SIGHUP → pid %d", o.pid)
			return syscall.Kill(o.pid, syscall.SIGHUP)
		},
		func(r load.Report, g int) (bool, string) { return m.oldGone(master, r, g, o.pid, true) })
	rep := run.Stop()
	samples := rec.stop()
	if err != nil {
		return result{}, err
	}
	return result{title: fmt.Sprintf("%s (pid %d), keep-alive %s", o.addr, o.pid, onOff(ka)), report: rep,
		events: m.Events(), samples: samples, restarts: o.restarts, clients: o.clients}, nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
