// Command loadtest builds a stage, starts it on a free loopback port, puts
// load on it, restarts it the stage's way in the middle, and shows what the
// clients saw: a live timeline while it runs, a summary at the end, and on
// request a chart. scripts/loadtest.sh runs it from the repository root.
//
//	loadtest [flags] STAGE             one stage: 01, 02, 03, 04 or 05
//	loadtest [flags] -dir PATH STAGE   the same, built from PATH (a patched copy of the stage)
//	loadtest [flags] table             every stage, as a Markdown table (add -keepalive both for off and on)
//	loadtest [flags] -addr HOST:PORT -pid PID
//	                                   a server that is already running: load it, send SIGHUP to PID
//	loadtest -proto ws|sse|mixed [flags] 05
//	                                   long-lived connections instead of requests (streams.go)
//	loadtest -proto mixed -c 10000 [flags] storm
//	                                   the reconnect storm: one restart of 05, four ways (storm.go)
//
// A restart counts as done only when the new generation (for 01 and 02: the
// new process or process image) has served -per-gen responses and the old
// worker (process) has exited; the load runs until then, so the old worker's
// drain is always measured. A run whose restart did not happen fails.
//
// Every run is bounded: -restarts restarts, each one waited for at most
// -timeout, -hold of steady load around each, and the load stops after the
// last one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"hotdeploy/internal/load"
)

// options are the command's flags, passed down explicitly so that tests can
// run measure with their own.
type options struct {
	clients   int
	restarts  int
	perGen    int
	keepAlive []bool
	timeout   time.Duration
	hold      time.Duration
	every     time.Duration // timeline interval; 0: no timeline
	color     bool
	verbose   bool
	dir       string        // -dir: build the stage from here
	chart     string        // -chart: file (one stage) or directory (table)
	addr      string        // -addr: an external server
	pid       int           // -pid: its PID, which gets the SIGHUPs
	proto     string        // -proto: http, or long-lived connections: ws, sse, mixed
	interval  time.Duration // -interval: WebSocket message / SSE event interval
	jitter    time.Duration // -jitter: random wait before a reconnect
	spread    time.Duration // -spread: the worker spreads its closes over this window
	backlog   int           // -backlog: start_server's --backlog
	args      []string
	out       io.Writer
}

const defaultHold = 2 * time.Second

func main() {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	var o options
	fs.IntVar(&o.clients, "c", 50, "concurrent clients")
	fs.IntVar(&o.restarts, "restarts", 3, "restarts during the run")
	fs.IntVar(&o.perGen, "per-gen", 500, "responses the new generation must serve before a restart counts as done (and the first one before the first restart)")
	ka := fs.String("keepalive", "on", "on, off or both")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "how long to wait for any one step")
	fs.DurationVar(&o.hold, "hold", defaultHold, "steady load before the first restart and after each one (default 0 for table)")
	fs.DurationVar(&o.every, "every", 250*time.Millisecond, "timeline: one line per interval (0: none; table: none unless set)")
	fs.BoolVar(&o.verbose, "v", false, "print the servers' output")
	fs.StringVar(&o.dir, "dir", "", "build the stage from this directory (a patched copy) instead of the repository's")
	fs.StringVar(&o.chart, "chart", "", "draw the run into this .png or .svg file (table: into this directory, one chart per stage and keep-alive mode)")
	fs.StringVar(&o.addr, "addr", "", "load a server that is already running at this loopback HOST:PORT (with -pid)")
	fs.IntVar(&o.pid, "pid", 0, "with -addr: the PID that gets the SIGHUPs (the master or start_server)")
	fs.StringVar(&o.proto, "proto", "http", "http (requests), or long-lived connections for 05 or -addr: ws (WebSocket /ws), sse (/events) or mixed (half each)")
	fs.DurationVar(&o.interval, "interval", 100*time.Millisecond, "long-lived: each WebSocket client sends a message, each SSE stream gets an event, every interval")
	fs.DurationVar(&o.jitter, "jitter", 0, "long-lived: each client waits a random time up to this before it reconnects (client-side cure for the reconnect storm)")
	fs.IntVar(&o.backlog, "backlog", 0, "long-lived, 05: start_server's --backlog, the listen queue a reconnect storm fills (0: its default, net.core.somaxconn)")
	fs.DurationVar(&o.spread, "spread", 0, "long-lived, 05: the worker spreads the closes of its connections over this window at drain start (server-side cure)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: loadtest [flags] 01|02|03|04|05|table\n       loadtest [flags] -addr HOST:PORT -pid PID\n       loadtest -proto ws|sse|mixed [flags] 05|storm\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o.args = os.Args[1:]
	o.out = os.Stdout
	o.color = colorWanted(os.Stdout, os.Getenv)

	what, err := checkArgs(&o, fs.Args(), *ka, set)
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadtest: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, what, o); err != nil {
		fmt.Fprintf(os.Stderr, "loadtest: %v\n", err)
		os.Exit(1)
	}
}

// checkArgs validates the flags and arguments together and fills in the
// defaults that depend on the mode. It returns what to run: a stage, "table"
// or "external".
func checkArgs(o *options, args []string, ka string, set map[string]bool) (string, error) {
	var err error
	if o.keepAlive, err = keepAliveModes(ka); err != nil {
		return "", err
	}
	if o.clients <= 0 || o.restarts <= 0 || o.perGen <= 0 || o.timeout <= 0 || o.hold < 0 || o.every < 0 {
		return "", errors.New("-c, -restarts, -per-gen and -timeout must be positive, -hold and -every not negative")
	}
	if err := checkProto(o, args, set); err != nil {
		return "", err
	}
	if o.chart != "" {
		if ext := filepath.Ext(o.chart); len(args) == 1 && args[0] != "table" && ext != ".png" && ext != ".svg" {
			return "", fmt.Errorf("-chart %s: want a file name ending in .png or .svg", o.chart)
		}
	}
	if o.addr != "" || o.pid != 0 {
		if len(args) != 0 {
			return "", errors.New("-addr/-pid load a running server: give no stage")
		}
		if o.addr == "" || o.pid <= 0 {
			return "", errors.New("-addr HOST:PORT and -pid PID go together")
		}
		if err := load.CheckLoopback(o.addr); err != nil {
			return "", fmt.Errorf("-addr: %s", strings.TrimPrefix(err.Error(), "load: "))
		}
		if o.dir != "" {
			return "", errors.New("-dir builds a stage; it does not go with -addr")
		}
		if err := syscall.Kill(o.pid, 0); err != nil {
			return "", fmt.Errorf("-pid %d: %w", o.pid, err)
		}
		if len(o.keepAlive) != 1 {
			return "", errors.New("-addr: -keepalive both is for stages; pick on or off")
		}
		if o.chart != "" && filepath.Ext(o.chart) != ".png" && filepath.Ext(o.chart) != ".svg" {
			return "", fmt.Errorf("-chart %s: want a file name ending in .png or .svg", o.chart)
		}
		return "external", nil
	}
	if len(args) != 1 {
		return "", errors.New("want one stage (01, 02, 03, 04, 05), table, or -addr and -pid; see -h")
	}
	what := args[0]
	if what == "table" {
		if o.dir != "" {
			return "", errors.New("-dir builds one stage; it does not go with table")
		}
		if !set["hold"] {
			o.hold = 0
		}
		if !set["every"] {
			o.every = 0
		}
		return what, nil
	}
	if what == "storm" {
		if o.dir != "" {
			return "", errors.New("-dir: storm runs the repository's 05")
		}
		// One restart each, a long wait for it (a storm's SYNs are sent
		// again after 1, 3, 7, 15 s), no timeline unless asked.
		if !set["restarts"] {
			o.restarts = 1
		}
		if !set["timeout"] {
			o.timeout = 2 * time.Minute
		}
		if !set["every"] {
			o.every = 0
		}
		return what, nil
	}
	if _, ok := stageDirs[what]; !ok {
		return "", fmt.Errorf("unknown stage %q (want 01, 02, 03, 04, 05 or table)", what)
	}
	if o.dir != "" {
		fi, err := os.Stat(o.dir)
		if err != nil {
			return "", fmt.Errorf("-dir: %w", err)
		}
		if !fi.IsDir() {
			return "", fmt.Errorf("-dir %s: not a directory", o.dir)
		}
	}
	return what, nil
}

// checkProto checks -proto and the flags that go with it.
func checkProto(o *options, args []string, set map[string]bool) error {
	if o.proto == "" {
		o.proto = "http"
	}
	if !protos[o.proto] {
		return fmt.Errorf("-proto %q: want http, ws, sse or mixed", o.proto)
	}
	if o.proto == "http" {
		for _, f := range []string{"interval", "jitter", "spread", "backlog"} {
			if set[f] {
				return fmt.Errorf("-%s is for long-lived connections: add -proto ws, sse or mixed", f)
			}
		}
		if len(args) == 1 && args[0] == "storm" {
			return errors.New("storm measures long-lived connections: add -proto ws, sse or mixed")
		}
		return nil
	}
	if o.interval <= 0 || o.jitter < 0 || o.spread < 0 || o.backlog < 0 {
		return errors.New("-interval must be positive, -jitter, -spread and -backlog not negative")
	}
	if o.addr != "" && o.backlog > 0 {
		return errors.New("-backlog is a flag of the start_server that loadtest starts; with -addr, start yours with --backlog")
	}
	if o.proto == "mixed" && o.clients < 2 {
		return errors.New("-proto mixed needs -c 2 or more (half WebSocket, half SSE)")
	}
	if len(args) == 1 && args[0] != "05" && args[0] != "storm" {
		return fmt.Errorf("-proto %s: only 05's example worker serves /ws and /events; want 05, storm or -addr", o.proto)
	}
	if o.addr != "" && o.spread > 0 {
		return errors.New("-spread is a flag of the worker that loadtest starts; with -addr, start yours with it")
	}
	return nil
}

func run(ctx context.Context, what string, o options) error {
	if o.proto != "http" {
		return runStreams(ctx, what, o)
	}
	if what == "external" {
		res, err := measureExternal(ctx, o)
		if err != nil {
			return err
		}
		return finish(o, res, o.chart)
	}
	tmp, err := os.MkdirTemp("", "loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	names := []string{what}
	if what == "table" {
		names = tableStages
		if o.chart != "" {
			if err := os.MkdirAll(o.chart, 0o755); err != nil {
				return fmt.Errorf("-chart: %w", err)
			}
		}
	}
	var rows []string
	for _, name := range names {
		st := newStage(name, o.dir)
		fmt.Fprintf(os.Stderr, "building %s...\n", st.src)
		if err := st.build(tmp); err != nil {
			return err
		}
		for _, ka := range o.keepAlive {
			fmt.Fprintf(o.out, "== %s, %d clients, keep-alive %v, %d restarts\n", st.src, o.clients, onOff(ka), o.restarts)
			res, err := measure(ctx, st, tmp, ka, o)
			if err != nil {
				return fmt.Errorf("%s: %w", st.src, err)
			}
			chart := o.chart
			if what == "table" && chart != "" {
				chart = filepath.Join(o.chart, fmt.Sprintf("loadtest-%s-keepalive-%s.png", name, onOff(ka)))
			}
			if err := finish(o, res, chart); err != nil {
				return err
			}
			rows = append(rows, row(name, ka, res.report, o.restarts))
		}
	}
	if what == "table" {
		fmt.Fprintf(o.out, "\n| stage | keep-alive | requests | failed | per restart | refused | reset | eof | timeout | non2xx | other |\n")
		fmt.Fprintf(o.out, "|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range rows {
			fmt.Fprintln(o.out, r)
		}
		fmt.Fprintf(o.out, "\n%d clients, %d restarts per row, %d responses of the new generation and the old worker gone before a restart counts: scripts/loadtest.sh %s\n",
			o.clients, o.restarts, o.perGen, strings.Join(o.args, " "))
	}
	return nil
}

// runStreams runs the long-lived connections' measurement: one run of 05
// or of an external server, or the storm's comparison.
func runStreams(ctx context.Context, what string, o options) error {
	if err := checkFiles(o.clients); err != nil {
		return err
	}
	if what == "external" {
		res, err := measureStreams(ctx, nil, "", o)
		if err != nil {
			return err
		}
		return finish(o, res, o.chart)
	}
	tmp, err := os.MkdirTemp("", "loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	st := newStage("05", o.dir)
	if o.backlog > 0 {
		st.extra = []string{"--backlog", strconv.Itoa(o.backlog)}
	}
	fmt.Fprintf(os.Stderr, "building %s...\n", st.src)
	if err := st.build(tmp); err != nil {
		return err
	}
	if what == "storm" {
		return storm(ctx, st, tmp, o)
	}
	st.workerArgs = spreadArgs(o.spread)
	res, err := measureStreams(ctx, st, tmp, o)
	if err != nil {
		return fmt.Errorf("%s: %w", st.src, err)
	}
	return finish(o, res, o.chart)
}

// finish prints the summary of one run and draws its chart.
func finish(o options, res result, chart string) error {
	draw := drawChart
	if res.streams != nil {
		fmt.Fprint(o.out, streamSummary(res))
		draw = drawStreamChart
	} else {
		fmt.Fprint(o.out, res.report)
	}
	if chart == "" {
		return nil
	}
	if err := draw(res, chart); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	fmt.Fprintf(o.out, "chart: %s\n", chart)
	return nil
}

func row(name string, ka bool, r load.Report, restarts int) string {
	e := r.Errors
	return fmt.Sprintf("| %s | %s | %d | %d | %.1f | %d | %d | %d | %d | %d | %d |", name, onOff(ka), r.Sent, r.Failed(),
		float64(r.Failed())/float64(restarts), e[load.Refused], e[load.Reset], e[load.EOF], e[load.Timeout], e[load.Non2xx], e[load.Other])
}

func keepAliveModes(s string) ([]bool, error) {
	switch s {
	case "on":
		return []bool{true}, nil
	case "off":
		return []bool{false}, nil
	case "both":
		return []bool{false, true}, nil
	}
	return nil, errors.New(`-keepalive must be on, off or both`)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
