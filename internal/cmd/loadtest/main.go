// Command loadtest builds a stage, starts it on a free loopback port, puts
// load on it, restarts it the stage's way in the middle, and prints what the
// clients saw. scripts/loadtest.sh runs it from the repository root.
//
//	loadtest [flags] STAGE      one stage: 01, 02, 03, 04 or 05
//	loadtest [flags] table      every stage, as a Markdown table (add -keepalive both for off and on)
//
// Every run is bounded: -restarts restarts, each one waited for at most
// -timeout, and the load stops with the last restart.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"hotdeploy/internal/load"
	"hotdeploy/internal/proc"
)

var (
	clients   = flag.Int("c", 50, "concurrent clients")
	restarts  = flag.Int("restarts", 3, "restarts during the run")
	perGen    = flag.Int("per-gen", 500, "successful responses to wait for before and after each restart")
	keepAlive = flag.String("keepalive", "on", "on, off or both")
	timeout   = flag.Duration("timeout", 30*time.Second, "how long to wait for any one step")
	verbose   = flag.Bool("v", false, "print the servers' output")
)

func main() {
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: loadtest [flags] 01|02|03|04|05|table\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, flag.Arg(0)); err != nil {
		fmt.Fprintf(os.Stderr, "loadtest: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, what string) error {
	modes, err := keepAliveModes(*keepAlive)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	names := []string{what}
	if what == "table" {
		names = tableStages
	}
	var rows []string
	for _, name := range names {
		st, ok := stages[name]
		if !ok {
			return fmt.Errorf("unknown stage %q (want 01, 02, 03, 04, 05 or table)", name)
		}
		fmt.Fprintf(os.Stderr, "building %s...\n", st.dir)
		if err := st.build(tmp); err != nil {
			return err
		}
		for _, ka := range modes {
			fmt.Printf("== %s, %d clients, keep-alive %v, %d restarts\n", st.dir, *clients, onOff(ka), *restarts)
			rep, err := measure(ctx, st, tmp, ka)
			if err != nil {
				return fmt.Errorf("%s: %w", st.dir, err)
			}
			fmt.Print(rep)
			rows = append(rows, row(name, ka, rep))
		}
	}
	if what == "table" {
		fmt.Printf("\n| stage | keep-alive | requests | failed | per restart | refused | reset | eof | timeout | non2xx | other |\n")
		fmt.Printf("|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range rows {
			fmt.Println(r)
		}
		fmt.Printf("\n%d clients, %d restarts per row, %d responses between restarts: scripts/loadtest.sh %s\n",
			*clients, *restarts, *perGen, strings.Join(os.Args[1:], " "))
	}
	return nil
}

func row(name string, ka bool, r load.Report) string {
	e := r.Errors
	return fmt.Sprintf("| %s | %s | %d | %d | %.1f | %d | %d | %d | %d | %d | %d |", name, onOff(ka), r.Sent, r.Failed(),
		float64(r.Failed())/float64(*restarts), e[load.Refused], e[load.Reset], e[load.EOF], e[load.Timeout], e[load.Non2xx], e[load.Other])
}

// measure starts the stage, loads it, restarts it -restarts times, and
// returns what the clients saw. Whatever it started is stopped before it
// returns.
func measure(ctx context.Context, st *stage, tmp string, ka bool) (load.Report, error) {
	s, err := st.start(tmp)
	if err != nil {
		return load.Report{}, err
	}
	defer s.stop()

	run, err := load.Start(load.Config{Addr: s.addr, Clients: *clients, MaxRequests: 10_000_000,
		MaxDuration: time.Duration(*restarts+1) * *timeout, KeepAlive: ka, Timeout: 10 * time.Second})
	if err != nil {
		return load.Report{}, err
	}
	defer run.Stop()
	okThen := 0
	waitOK := func() error {
		want := okThen + *perGen
		if !run.WaitFor(func(r load.Report) bool { return r.OK >= want }, *timeout) {
			return fmt.Errorf("fewer than %d successful responses within %v: %v", want, *timeout, run.Snapshot())
		}
		okThen = want
		return nil
	}
	if err := waitOK(); err != nil {
		return load.Report{}, err
	}
	for i := 0; i < *restarts; i++ {
		if ctx.Err() != nil {
			return load.Report{}, ctx.Err()
		}
		if err := st.restart(s); err != nil {
			return load.Report{}, fmt.Errorf("restart %d: %w", i+1, err)
		}
		okThen = run.Snapshot().OK
		if err := waitOK(); err != nil {
			return load.Report{}, err
		}
	}
	return run.Stop(), nil
}

// A stage knows how to build, start and restart one of the workshop's
// programs.
type stage struct {
	dir     string
	bin     string
	build   func(tmp string) error
	start   func(tmp string) (*server, error)
	restart func(*server) error
}

// A server is a running stage: the process we started (the program, or the
// master or starter) and its address.
type server struct {
	p    *proc.Process
	addr string
	gen  int    // generation of the newest worker, for stages that have them
	tmp  string // where the stage's binaries are
}

func (s *server) stop() {
	if s.p == nil {
		return
	}
	if _, err := s.p.Stop(30 * time.Second); err != nil {
		fmt.Fprintf(os.Stderr, "stop: %v\n", err)
	}
	if left := s.p.Survivors(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "processes left behind, killing: %v\n", left)
		s.p.KillGroup()
	}
	if *verbose {
		fmt.Fprintln(os.Stderr, s.p.Output())
	}
}

var (
	listeningRE = regexp.MustCompile(`listening on (\S+) pid=(\d+)`)
	stages      = map[string]*stage{}
	tableStages = []string{"01", "02", "03", "04", "05"}
)

func init() {
	simple := func(dir string) *stage {
		st := &stage{dir: dir}
		st.build = func(tmp string) error {
			var err error
			st.bin, err = proc.Build("./"+dir, tmp)
			return err
		}
		st.start = func(tmp string) (*server, error) { return startOn(st.bin, "127.0.0.1:0") }
		return st
	}
	// 01: a restart is "stop the process, start a new one on the same port".
	stages["01"] = simple("01-signals")
	stages["01"].restart = func(s *server) error {
		if _, err := s.p.Stop(*timeout); err != nil {
			return err
		}
		next, err := startOn(stages["01"].bin, s.addr)
		if err != nil {
			return err
		}
		s.p = next.p
		return nil
	}
	// 02: SIGHUP re-executes in place; the new image prints its line again.
	stages["02"] = simple("02-fd-inheritance")
	stages["02"].restart = func(s *server) error {
		if err := s.p.Signal(syscall.SIGHUP); err != nil {
			return err
		}
		_, err := s.p.WaitLine(listeningRE, *timeout)
		return err
	}
	// 03, 04: SIGHUP to the master; wait until the next generation serves.
	for name, dir := range map[string]string{"03": "03-fork-exec", "04": "04-graceful-shutdown"} {
		stages[name] = simple(dir)
		stages[name].restart = func(s *server) error {
			if err := s.p.Signal(syscall.SIGHUP); err != nil {
				return err
			}
			s.gen++
			_, err := s.p.WaitLine(regexp.MustCompile(fmt.Sprintf(`worker pid=\d+ generation=%d serving`, s.gen)), *timeout)
			return err
		}
	}
	stages["05"] = stage05()
}

// startOn starts bin -addr addr and waits for its "listening on" line.
func startOn(bin, addr string) (*server, error) {
	p, err := proc.Start(bin, "-addr", addr)
	if err != nil {
		return nil, err
	}
	m, err := p.WaitLine(listeningRE, *timeout)
	if err != nil {
		p.Kill()
		return nil, fmt.Errorf("%w\n%s", err, p.Output())
	}
	return &server{p: p, addr: m[1], gen: 1}, nil
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
