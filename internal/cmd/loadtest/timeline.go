package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"hotdeploy/internal/load"
)

// A sample is the run's counters at one moment. HTTP: responses by
// generation and errors by class, so far. Streams: connections open now by
// generation, messages and events so far, failures by kind so far.
type sample struct {
	at    time.Duration
	byGen map[int]int
	errs  map[load.Class]int

	open  map[int]int
	flow  int
	fails map[string]int
}

// A snap is what the recorder takes from a run at one moment.
type snap struct {
	sample
	firstAt map[int]time.Duration
	pidGen  map[int]int
}

// A recorder samples a run while it goes on, for the chart, and prints the
// live timeline: one line per o.every with the responses of each
// generation and the errors by class in that interval, and the events
// between the lines, at the time they happened.
type recorder struct {
	snap        func() snap
	done        <-chan struct{} // the run's end
	noun        string          // what a generation's first is: "response", "connection"
	line        func(a, b sample) string
	m           *meter
	o           options
	samples     []sample
	first       map[int]bool // generations whose first response is an event already
	shown       sample       // the sample the last timeline line ended at
	next        time.Duration
	scale       int  // the largest interval total so far: a full bar
	printedLast bool // the timeline is complete
	stopC       chan struct{}
	doneC       chan struct{}
}

// sampleEvery is how often the recorder samples: fine enough for a chart
// of a run that lasts a tenth of a second (table, no hold).
const sampleEvery = 2 * time.Millisecond

func startRecorder(run *load.Run, m *meter, o options) *recorder {
	r := &recorder{done: run.Done(), noun: "response", m: m, o: o}
	r.line = r.httpLine
	r.snap = func() snap {
		rep := run.Snapshot()
		return snap{sample: sample{at: rep.Elapsed, byGen: rep.ByGen, errs: rep.Errors}, firstAt: rep.FirstAt, pidGen: rep.PIDGen}
	}
	return r.begin()
}

func (r *recorder) begin() *recorder {
	r.first, r.next = map[int]bool{}, r.o.every
	r.stopC, r.doneC = make(chan struct{}), make(chan struct{})
	go r.loop()
	return r
}

func (r *recorder) loop() {
	defer close(r.doneC)
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	for {
		select {
		case <-r.stopC:
			r.take(true)
			return
		case <-tick.C:
			r.take(false)
		}
	}
}

// stop takes the last sample, prints the rest of the timeline and returns
// the samples.
func (r *recorder) stop() []sample {
	close(r.stopC)
	<-r.doneC
	return r.samples
}

func (r *recorder) take(last bool) {
	sn := r.snap()
	s := sn.sample
	r.samples = append(r.samples, s)
	for g, at := range sn.firstAt {
		if r.first[g] {
			continue
		}
		r.first[g] = true
		pid := 0
		for p, pg := range sn.pidGen {
			if pg == g {
				pid = p
			}
		}
		r.m.add(event{at: at, kind: evFirst, text: fmt.Sprintf("generation %d: first %s (pid %d)", g, r.noun, pid)})
	}
	if r.o.every <= 0 {
		return
	}
	select {
	case <-r.done:
		last = true // the load is over; print the rest once
	default:
	}
	if r.printedLast {
		return
	}
	r.printedLast = last
	if s.at >= r.next || last {
		r.printEvents(s.at, last)
		if s.at > r.shown.at {
			fmt.Fprintln(r.o.out, r.line(r.shown, s))
		}
		r.shown = s
		for r.next <= s.at {
			r.next += r.o.every
		}
	}
}

// printEvents prints the events up to at (all of them if last) that are
// not printed yet, in time order.
func (r *recorder) printEvents(at time.Duration, last bool) {
	r.m.mu.Lock()
	var due []*event
	for i := range r.m.events {
		e := &r.m.events[i]
		if !e.printed && (last || e.at <= at) {
			e.printed = true
			due = append(due, e)
		}
	}
	sort.SliceStable(due, func(i, j int) bool { return due[i].at < due[j].at })
	var b strings.Builder
	for _, e := range due {
		fmt.Fprintf(&b, "%8.3fs  %s\n", e.at.Seconds(), r.paint(eventColor(e.kind), "» "+e.text))
	}
	r.m.mu.Unlock()
	io.WriteString(r.o.out, b.String())
}

const barWidth = 40

// httpLine is one timeline line: the interval from a to b.
func (r *recorder) httpLine(a, b sample) string {
	total := 0
	gens := make([]int, 0, len(b.byGen))
	for g, n := range b.byGen {
		if d := n - a.byGen[g]; d > 0 {
			gens = append(gens, g)
			total += d
		}
	}
	sort.Ints(gens)
	errs := 0
	for _, c := range load.Classes {
		errs += b.errs[c] - a.errs[c]
	}
	r.scale = max(r.scale, total+errs)
	var sb strings.Builder
	fmt.Fprintf(&sb, "%8.3fs ", b.at.Seconds())
	if total == 0 {
		sb.WriteString(" no responses")
	}
	for _, g := range gens {
		d := b.byGen[g] - a.byGen[g]
		n := max(1, (d*barWidth+r.scale/2)/max(r.scale, 1))
		fmt.Fprintf(&sb, " %s %d", r.paint(genColor(g), fmt.Sprintf("gen %d %s", g, strings.Repeat("█", n))), d)
	}
	if errs > 0 {
		var parts []string
		for _, c := range load.Classes {
			if d := b.errs[c] - a.errs[c]; d > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", c, d))
			}
		}
		sb.WriteString("  " + r.paint(red, "errors: "+strings.Join(parts, ", ")))
	}
	return sb.String()
}

// ANSI colours: one per generation (cycling), red for errors only.
const (
	red   = "31"
	bold  = "1"
	plain = ""
)

var genColors = []string{"36", "33", "35", "32", "34"} // cyan, yellow, magenta, green, blue

func genColor(g int) string { return genColors[(g-1+len(genColors))%len(genColors)] }

func eventColor(k evKind) string {
	if k == evSignal {
		return bold
	}
	return plain
}

func (r *recorder) paint(code, s string) string {
	if !r.o.color || code == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// colorWanted reports whether to colour the output: only when it goes to a
// terminal, and not when NO_COLOR is set (https://no-color.org) or the
// terminal is "dumb".
func colorWanted(f *os.File, getenv func(string) string) bool {
	if getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
