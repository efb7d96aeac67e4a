package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"hotdeploy/internal/load"
)

// Long-lived connections (-proto ws, sse or mixed): instead of requests,
// -c clients each hold a WebSocket (GET /ws) or an event stream (GET
// /events) open across the restarts, and reconnect as a browser does when
// the old generation closes them (see package load). A restart is done
// when every client is connected to the new generation and the old worker
// has exited.

// protos are the values of -proto.
var protos = map[string]bool{"http": true, "ws": true, "sse": true, "mixed": true}

// split is how many WebSocket and SSE clients -proto and -c make.
func split(o options) (ws, sse int) {
	switch o.proto {
	case "ws":
		return o.clients, 0
	case "sse":
		return 0, o.clients
	}
	return o.clients - o.clients/2, o.clients / 2
}

// streamConfig is the stream load for a run of o against addr.
func streamConfig(o options, addr string, gen func(pid, gen int) int) load.StreamConfig {
	ws, sse := split(o)
	bound := time.Duration(o.restarts+1) * (o.timeout + o.hold)
	// The run's own first connects are spread over 0.2 ms per client (2 s
	// for 10,000), or they would be a storm of their own. A connect may
	// take as long as any step (-timeout): in a storm, a dropped SYN is
	// sent again after 1, 3, 7, 15 s.
	return load.StreamConfig{Addr: addr, WS: ws, SSE: sse, Interval: o.interval, MaxDuration: bound,
		Timeout: o.timeout, Jitter: o.jitter, Ramp: time.Duration(o.clients) * 200 * time.Microsecond, Generation: gen}
}

// failureKinds are the ways a long-lived client can be hurt, in the order
// the timeline and the chart show them.
var failureKinds = []string{"abnormal", "close code", "dial", "lost", "duplicated", "id gap", "id dup"}

func failures(r load.StreamReport) map[string]int {
	f := map[string]int{}
	for _, p := range []load.ProtoReport{r.WS, r.SSE} {
		f["abnormal"] += p.AbnormalCount()
		f["close code"] += p.OtherCodes()
		f["dial"] += p.DialErrors()
		f["lost"] += p.Lost
		f["duplicated"] += p.Duplicated + p.Garbled
		f["id gap"] += p.Gaps
		f["id dup"] += p.DupIDs
	}
	return f
}

// streamProgress watches a stream run: a generation is ready when every
// client is connected to it.
func streamProgress(run *load.StreamRun, clients int, oldGone func(pidGen map[int]int, g int) (bool, string)) progress {
	return progress{done: run.Done(), noun: "connection",
		ready: func() (int, bool, string) {
			r := run.Snapshot()
			g := newest(r.ByGen)
			if r.Open[g] == clients {
				return g, true, fmt.Sprintf("has all %d clients", clients)
			}
			return g, false, fmt.Sprintf("generation %d has %d of %d clients; failures %v", g, r.Open[g], clients, failures(r))
		},
		oldGone: func(g int) (bool, string) { return oldGone(run.Snapshot().PIDGen, g) },
	}
}

// startStreamRecorder samples a stream run for the timeline and the chart.
func startStreamRecorder(run *load.StreamRun, m *meter, o options) *recorder {
	r := &recorder{done: run.Done(), noun: "connection", m: m, o: o}
	r.line = r.streamLine
	r.snap = func() snap {
		rep := run.Snapshot()
		return snap{sample: sample{at: rep.Elapsed, open: rep.Open, flow: rep.WS.Echoed + rep.SSE.Events, fails: failures(rep)},
			firstAt: rep.FirstAt, pidGen: rep.PIDGen}
	}
	return r.begin()
}

// streamLine is one timeline line of a stream run: the connections open at
// b by generation, the echoes and events since a, and the failures since a.
func (r *recorder) streamLine(a, b sample) string {
	gens := make([]int, 0, len(b.open))
	total := 0
	for g, n := range b.open {
		gens = append(gens, g)
		total += n
	}
	sort.Ints(gens)
	r.scale = max(r.scale, total, r.o.clients)
	var sb strings.Builder
	fmt.Fprintf(&sb, "%8.3fs ", b.at.Seconds())
	if total == 0 {
		sb.WriteString(" no connections")
	}
	for _, g := range gens {
		n := max(1, (b.open[g]*barWidth+r.scale/2)/r.scale)
		fmt.Fprintf(&sb, " %s %d", r.paint(genColor(g), fmt.Sprintf("gen %d %s", g, strings.Repeat("█", n))), b.open[g])
	}
	if total < r.o.clients {
		fmt.Fprintf(&sb, "  %d reconnecting", r.o.clients-total)
	}
	fmt.Fprintf(&sb, "  (%d echoes+events)", b.flow-a.flow)
	var parts []string
	for _, k := range failureKinds {
		if d := b.fails[k] - a.fails[k]; d > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, d))
		}
	}
	if len(parts) > 0 {
		sb.WriteString("  " + r.paint(red, "failures: "+strings.Join(parts, ", ")))
	}
	return sb.String()
}

// measureStreams starts stage 05 (or uses the external server of -addr),
// holds o.clients long-lived connections on it across o.restarts
// restarts, and returns what the clients saw.
func measureStreams(ctx context.Context, st *stage, tmp string, o options) (result, error) {
	m := newMeter(o.out)
	ws, sse := split(o)
	var addr string
	var k kind
	var restart func() error
	var oldGone func(map[int]int, int) (bool, string)
	var stopWatch chan struct{}
	var wg sync.WaitGroup
	title := ""
	if st == nil {
		addr, k = o.addr, master
		title = fmt.Sprintf("%s (pid %d)", o.addr, o.pid)
		fmt.Fprintf(o.out, "== %s, %s, %d restarts\n", title, clientsText(ws, sse), o.restarts)
		restart = func() error { return signalExternal(m, o.pid) }
		oldGone = func(pg map[int]int, g int) (bool, string) { return m.oldGone(master, pg, g, o.pid, true) }
	} else {
		fmt.Fprintf(o.out, "== %s, %s, %d restarts\n", st.src, clientsText(ws, sse), o.restarts)
		s, err := st.start(tmp, o.timeout, m)
		if err != nil {
			return result{}, err
		}
		s.verbose = o.verbose
		defer s.stop()
		addr, k, title = s.addr, st.kind, st.src
		restart = func() error { return st.restart(s, o.timeout, m) }
		oldGone = func(pg map[int]int, g int) (bool, string) { return m.oldGone(st.kind, pg, g, s.p.PID(), false) }
		stopWatch = make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			watchLines(s.p, st.kind, m, stopWatch)
		}()
	}
	run, err := load.StartStreams(streamConfig(o, addr, m.generation(k, st == nil)))
	if err != nil {
		return result{}, err
	}
	defer run.Stop()
	m.start = run.Started()
	rec := startStreamRecorder(run, m, o)
	var before map[string]int64
	err = drive(ctx, streamProgress(run, o.clients, oldGone), m, o, func() error {
		if before == nil {
			before = tcpCounters()
		}
		return restart()
	})
	var tcp map[string]int64
	if after := tcpCounters(); before != nil && after != nil {
		tcp = map[string]int64{}
		for k, v := range after {
			tcp[k] = v - before[k]
		}
	}
	// The timeline and the chart end here, before the clients close
	// their connections themselves.
	samples := rec.stop()
	rep := run.Stop()
	if stopWatch != nil {
		close(stopWatch)
		wg.Wait()
	}
	if err != nil {
		return result{}, fmt.Errorf("%w\n%v", err, rep)
	}
	reconnect, connect := run.Durations()
	return result{title: fmt.Sprintf("%s, %s", title, clientsText(ws, sse)), streams: &rep, events: m.Events(),
		samples: samples, restarts: o.restarts, clients: o.clients, exits: m.exitTimes(),
		reconnect: reconnect, connect: connect, tcp: tcp}, nil
}

func clientsText(ws, sse int) string {
	switch {
	case sse == 0:
		return fmt.Sprintf("%d WebSocket clients", ws)
	case ws == 0:
		return fmt.Sprintf("%d SSE clients", sse)
	}
	return fmt.Sprintf("%d WebSocket + %d SSE clients", ws, sse)
}

// oldWorkers is, for each generation older than the newest, when its last
// connection closed (as the clients saw it) and when its worker exited
// (as the starter's log or kill -0 told us).
type oldWorker struct {
	gen, pid        int
	lastClose, exit time.Duration
	exited          bool
}

func oldWorkers(res result) []oldWorker {
	rep := res.streams
	top := newest(rep.ByGen)
	var out []oldWorker
	for pid, g := range rep.PIDGen {
		if g >= top {
			continue
		}
		w := oldWorker{gen: g, pid: pid, lastClose: rep.LastClose[g]}
		w.exit, w.exited = res.exits[pid]
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].gen < out[j].gen })
	return out
}

// streamSummary is the end of a stream run's output: the clients' report,
// each old worker's exit after its last connection, and the verdicts.
func streamSummary(res result) string {
	var b strings.Builder
	b.WriteString(res.streams.String())
	within := 0
	olds := oldWorkers(res)
	for _, w := range olds {
		if !w.exited {
			fmt.Fprintf(&b, "generation %d (pid %d): last connection closed at %.3fs; exit not seen\n", w.gen, w.pid, w.lastClose.Seconds())
			continue
		}
		d := w.exit - w.lastClose
		if d < time.Second {
			within++
		}
		// No difference printed: the clients may learn of a close after
		// the worker has exited (10,000 of them on 2 cores), and a
		// negative "later" reads worse than the two times.
		fmt.Fprintf(&b, "generation %d (pid %d): last connection closed at %.3fs, worker exited at %.3fs\n",
			w.gen, w.pid, w.lastClose.Seconds(), w.exit.Seconds())
	}
	fmt.Fprintf(&b, "old workers gone within 1s of their last connection: %d of %d\n", within, len(olds))
	if res.tcp != nil {
		fmt.Fprintf(&b, "kernel, from the first restart to the last one done (whole machine): SYNs sent again %d, accept queue overflows %d\n",
			res.tcp["TCPSynRetrans"], res.tcp["ListenOverflows"])
	}
	return b.String()
}
