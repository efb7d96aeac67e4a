package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"hotdeploy/internal/load"
)

// The reconnect storm (loadtest -proto mixed -c 10000 storm): when a
// generation closes all its long-lived connections at once, every client
// reconnects at once, and the accept queue of the listening socket
// (listen's backlog, capped by net.core.somaxconn) overflows: the kernel
// drops SYNs, and each dropped one is sent again after 1 s. storm measures
// one restart of 05 under the same load four ways — all at once, with a
// random wait on the clients (-jitter), with the worker spreading its
// closes (-spread), and both — and prints one table and draws one chart.

// Defaults of -jitter and -spread for storm.
const stormDefaultWindow = 2 * time.Second

// spreadFlag is the example worker's flag that spreads its closes.
const spreadFlag = "-close-spread"

// spreadArgs are the worker's arguments for -spread d.
func spreadArgs(d time.Duration) []string {
	if d <= 0 {
		return nil
	}
	return []string{spreadFlag, d.String()}
}

func storm(ctx context.Context, st *stage, tmp string, o options) error {
	jitter, spread := o.jitter, o.spread
	if jitter == 0 {
		jitter = stormDefaultWindow
	}
	if spread == 0 {
		spread = stormDefaultWindow
	}
	variants := []struct {
		name           string
		jitter, spread time.Duration
	}{
		{"all at once", 0, 0},
		{fmt.Sprintf("client jitter %v", jitter), jitter, 0},
		{fmt.Sprintf("server spread %v", spread), 0, spread},
		{"both", jitter, spread},
	}
	if note := backlogNote(o.backlog); note != "" {
		fmt.Fprintln(o.out, note)
	}
	var runs []stormRun
	for _, v := range variants {
		oo := o
		oo.jitter = v.jitter
		st.workerArgs = spreadArgs(v.spread)
		fmt.Fprintf(o.out, "\n== storm: %s\n", v.name)
		res, err := measureStreams(ctx, st, tmp, oo)
		if err != nil {
			return fmt.Errorf("storm, %s: %w", v.name, err)
		}
		fmt.Fprint(o.out, streamSummary(res))
		runs = append(runs, stormRun{name: v.name, res: res})
	}
	ws, sse := split(o)
	fmt.Fprintf(o.out, "\n%s, %d restart each, interval %v:\n\n", clientsText(ws, sse), o.restarts, o.interval)
	fmt.Fprint(o.out, stormTable(runs))
	if o.chart == "" {
		return nil
	}
	note := ""
	if o.backlog > 0 {
		note = fmt.Sprintf(" (listen backlog %d)", o.backlog)
	}
	if err := drawStorm(runs, o.clients, note, o.chart); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	fmt.Fprintf(o.out, "chart: %s\n", o.chart)
	return nil
}

// stormTable is the comparison as a Markdown table.
func stormTable(runs []stormRun) string {
	var b strings.Builder
	b.WriteString("| variant | reconnects | reconnect p50 | p99 | max | connect p50 | p99 | max | connects ≥ 1 s | SYNs sent again | all moved in | failures |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		rep := r.res.streams
		con := latenciesOf(r.res.connect)
		slow := 0
		for _, d := range r.res.connect {
			if d >= time.Second {
				slow++
			}
		}
		moved := movedIn(r.res)
		fails := 0
		for _, n := range failures(*rep) {
			fails += n
		}
		syn := "?"
		if r.res.tcp != nil {
			syn = fmt.Sprint(r.res.tcp["TCPSynRetrans"])
		}
		fmt.Fprintf(&b, "| %s | %d | %v | %v | %v | %v | %v | %v | %d | %s | %v | %d |\n", r.name, rep.Reconnects,
			rnd(rep.Reconnect.P50), rnd(rep.Reconnect.P99), rnd(rep.Reconnect.Max), rnd(con.P50), rnd(con.P99), rnd(con.Max),
			slow, syn, moved.Round(time.Millisecond), fails)
	}
	return b.String()
}

// firstClose is when the old generation lost its first connection after
// the (first) restart signal of res: where the storm begins.
func firstClose(res result) time.Duration {
	sig, old := signalAt(res), 0
	for _, s := range res.samples {
		if s.at < sig {
			continue
		}
		if old == 0 {
			for g := range s.open {
				old = max(old, g)
			}
		}
		if s.open[old] < res.clients {
			return s.at
		}
	}
	return sig
}

// movedIn is how long the clients took to move to the new generation:
// from the first connection the old one lost to the moment every client
// was on the new one (the first restart of res).
func movedIn(res result) time.Duration {
	first, g := firstClose(res), newest(res.streams.ByGen)
	for _, s := range res.samples {
		if s.at >= first && s.open[g] == res.clients {
			return s.at - first
		}
	}
	return 0
}

// latenciesOf is the percentiles of d.
func latenciesOf(d []time.Duration) load.Latencies { return load.Percentiles(d) }

// rnd rounds a duration for a table: to 1 ms from 1 s up, else to 10 µs.
func rnd(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}
