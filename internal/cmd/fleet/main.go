// Command fleet runs a rolling deploy across a small fleet on this machine,
// for real: every host is a Linux network namespace joined to a bridge in a
// private subnet, runs our start_server with the example worker, and sits
// behind HAProxy. Load goes through HAProxy during every rollout, and every
// response is attributed to a host and a version. scripts/fleet.sh builds
// and runs it as root, and cleans up after it whatever happens.
//
//	fleet [flags] [STEP...]    steps, in order; default: a b fail rollback
//	fleet [flags] up           set the fleet up and take steps from other invocations until Ctrl-C
//	fleet cleanup -work DIR    undo what a run in DIR created (its journal)
//
// Steps (each one measured under load):
//
//	a         rollout A, hot deploy: v1 → v2 host by host with start_server --restart
//	b         rollout B, without a supervisor: drain in HAProxy, stop, start, ready; v1 → v2
//	fail      a release of v3 that crashes at start on h2 (its binary arrives cut short)
//	rollback  every host back to the last version that rolled out everywhere
//
// a and b first put every host back on v1 (unmeasured), fail on v2. The
// exit status is 0 when every step did what it should and every host runs
// the same version at the end; 1 otherwise (so "fleet fail" alone exits 1:
// the rollout stopped and left the fleet mixed).
//
// While "fleet up" runs, "fleet STEP..." with the same -subnet sends the
// steps to it instead of setting up a fleet of its own: "fleet fail" (exit
// 1, h1 on v3), then "fleet rollback" (exit 0, h1 back on v2).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"hotdeploy/internal/proc"
)

type options struct {
	hosts       int
	subnet      string
	clients     int
	every       time.Duration
	warm        int
	timeout     time.Duration
	stepTimeout time.Duration
	work        string
	jsonOut     string
	bin         string // prebuilt binaries (tests): DIR/start_server, DIR/v1/example, ...
}

type fleet struct {
	opt       options
	out       io.Writer
	j         *journal
	net       *network
	lb        *lb
	hosts     []*host
	artifacts map[string]string // version → built binary
	good      string            // the last version that rolled out to every host
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "cleanup" {
		os.Exit(cleanupMain(os.Args[2:]))
	}
	var o options
	flag.IntVar(&o.hosts, "hosts", 3, "hosts in the fleet (2-9)")
	flag.StringVar(&o.subnet, "subnet", "10.213.77.0/24", "private IPv4 subnet for the fleet; refused if anything on this machine uses it")
	flag.IntVar(&o.clients, "c", 16, "concurrent keep-alive clients through haproxy")
	flag.DurationVar(&o.every, "every", time.Second, "timeline interval during a rollout")
	flag.IntVar(&o.warm, "warm", 300, "responses before and after each rollout")
	flag.DurationVar(&o.timeout, "timeout", 3*time.Minute, "bound of the whole run")
	flag.StringVar(&o.work, "work", "", "directory for the run's files (default: a new temporary one, removed at the end)")
	flag.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	flag.StringVar(&o.bin, "bin", "", "use the binaries in this directory (start_server, v1/example, v2/example, v3/example) instead of building them")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: fleet [flags] [a|b|fail|rollback ...]   (default: a b fail rollback)\n       fleet [flags] up\n       fleet cleanup -work DIR\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	o.stepTimeout = 90 * time.Second
	timeoutSet := false
	flag.Visit(func(fl *flag.Flag) { timeoutSet = timeoutSet || fl.Name == "timeout" })
	steps := flag.Args()
	if len(steps) == 0 {
		steps = []string{"a", "b", "fail", "rollback"}
	}
	for _, s := range steps {
		switch s {
		case "a", "b", "fail", "rollback":
		case "up":
			if len(steps) > 1 {
				fmt.Fprintf(os.Stderr, "fleet: \"up\" goes alone; send the steps from another terminal\n")
				os.Exit(2)
			}
		default:
			fmt.Fprintf(os.Stderr, "fleet: unknown step %q (want a, b, fail, rollback, or up)\n", s)
			os.Exit(2)
		}
	}
	if steps[0] == "up" && !timeoutSet {
		o.timeout = 30 * time.Minute // interactive, but still bounded
	}
	if o.hosts < 2 || o.hosts > 9 {
		fmt.Fprintf(os.Stderr, "fleet: -hosts must be 2 to 9, got %d\n", o.hosts)
		os.Exit(2)
	}
	subnet, err := parseSubnet(o.subnet)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fleet: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := checkPrivileges(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "fleet: %v\n", err)
		os.Exit(1)
	}
	if steps[0] != "up" {
		// A fleet that is up on this subnet takes the steps itself.
		if code, ok := sendSteps(ctx, subnet, steps); ok {
			os.Exit(code)
		}
	}
	os.Exit(run(ctx, o, subnet, steps))
}

func run(sigCtx context.Context, o options, subnet netip.Prefix, steps []string) int {
	ctx, cancel := context.WithTimeout(sigCtx, o.timeout)
	defer cancel()
	f := &fleet{opt: o, out: os.Stdout, artifacts: map[string]string{}, good: "v1"}
	lock, err := claimSubnet(ctx, subnet)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fleet: %v\n", err)
		return 1
	}
	defer lock.Close()
	fleetSubnet = subnet

	work := o.work
	if work == "" {
		if work, err = os.MkdirTemp("", "hotdeploy-fleet-"); err != nil {
			fmt.Fprintf(os.Stderr, "fleet: %v\n", err)
			return 1
		}
		defer os.RemoveAll(work)
	}
	if f.j, err = openJournal(work); err != nil {
		fmt.Fprintf(os.Stderr, "fleet: %v\n", err)
		return 1
	}
	results, err := f.runSteps(ctx, work, subnet, steps)
	if len(results) > 0 {
		printTable(f.out, results, o.hosts, o.clients)
	}
	f.teardown() // before the verdict, so that it is the last line
	if o.jsonOut != "" {
		if jerr := writeJSON(o.jsonOut, f, results); jerr != nil && err == nil {
			err = jerr
		}
	}
	switch {
	case sigCtx.Err() != nil && len(steps) == 1 && steps[0] == "up":
		fmt.Fprintf(os.Stderr, "fleet: down; cleaned up\n")
		return 0
	case sigCtx.Err() != nil:
		fmt.Fprintf(os.Stderr, "fleet: interrupted; cleaned up\n")
		return 130
	case ctx.Err() != nil:
		fmt.Fprintf(os.Stderr, "fleet: not done within -timeout %v (%v); cleaning up\n", o.timeout, err)
		return 1
	case err != nil:
		fmt.Fprintf(os.Stderr, "fleet: %v\n", err)
		return 1
	}
	if v := f.versions(); !allSame(v) {
		last := results[len(results)-1]
		fmt.Fprintf(os.Stderr, "fleet: %s\n", last.Stopped)
		return 1
	}
	return 0
}

// runSteps builds the versions, sets up the fleet and runs the steps. It
// stops at the first step that goes wrong; an expected stop (step fail) is
// not an error.
func (f *fleet) runSteps(ctx context.Context, work string, subnet netip.Prefix, steps []string) ([]*stepResult, error) {
	if f.opt.bin != "" {
		f.artifacts["start_server"] = filepath.Join(f.opt.bin, "start_server")
		for _, v := range []string{"v1", "v2", "v3"} {
			f.artifacts[v] = filepath.Join(f.opt.bin, v, "example")
		}
		for _, a := range f.artifacts {
			if _, err := os.Stat(a); err != nil {
				return nil, fmt.Errorf("-bin: %w", err)
			}
		}
	} else if err := f.build(ctx, filepath.Join(work, "bin")); err != nil {
		return nil, err
	}
	f.net = &network{prefix: fmt.Sprintf("hdf%d", os.Getpid()%100000), subnet: subnet, bridge: fmt.Sprintf("hdf%dbr", os.Getpid()%100000)}
	f.net.gw = subnet.Addr().Next()
	fmt.Fprintf(f.out, "fleet: %d hosts in %s (bridge %s, namespaces %s…%s), haproxy in the root namespace\n",
		f.opt.hosts, subnet, f.net.bridge, f.net.nsName(1), f.net.nsName(f.opt.hosts))
	if err := f.net.setUp(ctx, f.j, f.opt.hosts); err != nil {
		return nil, err
	}
	var servers []lbServer
	for i := 1; i <= f.opt.hosts; i++ {
		h := &host{name: fmt.Sprintf("h%d", i), ns: f.net.nsName(i), addr: f.net.hostAddr(i),
			dir: filepath.Join(work, fmt.Sprintf("h%d", i)), starter: f.artifacts["start_server"]}
		if err := os.MkdirAll(h.dir, 0o755); err != nil {
			return nil, err
		}
		if err := h.deploy(f.artifacts["v1"], "v1", false); err != nil {
			return nil, err
		}
		if err := h.start(ctx, f.j, 30*time.Second); err != nil {
			return nil, err
		}
		f.hosts = append(f.hosts, h)
		servers = append(servers, lbServer{Name: h.name, Addr: h.hostPort()})
		fmt.Fprintf(f.out, "  %s: %s in namespace %s, start_server pid %d, v1\n", h.name, h.hostPort(), h.ns, h.p.PID())
	}
	var err error
	if f.lb, err = startLB(work, servers, f.j, 10*time.Second); err != nil {
		return nil, err
	}
	for _, h := range f.hosts {
		if err := f.waitLB(ctx, h.name, func(s serverState) bool { return s.inService() }, "up"); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(f.out, "  haproxy pid %d: frontend %s, runtime API %s, every host UP\n", f.lb.p.PID(), f.lb.addr, f.lb.sock)
	if len(steps) == 1 && steps[0] == "up" {
		return nil, f.serve(ctx, subnet)
	}
	return f.runStepList(ctx, steps)
}

// runStepList runs the steps on the fleet, in order, and stops at the first
// one that goes wrong; an expected stop (step fail) is not an error.
func (f *fleet) runStepList(ctx context.Context, steps []string) ([]*stepResult, error) {
	var results []*stepResult
	for _, step := range steps {
		var r *stepResult
		var err error
		switch step {
		case "a":
			if err = f.ensure(ctx, "v1"); err == nil {
				r, err = f.measured(ctx, "a", "A: hot deploy (start_server --restart)", "v2", f.rolloutA("v2", ""))
			}
		case "b":
			if err = f.ensure(ctx, "v1"); err == nil {
				r, err = f.measured(ctx, "b", "B: drain, stop, start, ready", "v2", f.rolloutB("v2"))
			}
		case "fail":
			if err = f.ensure(ctx, "v2"); err == nil {
				r, err = f.measured(ctx, "fail", "release v3, crashes at start on h2", "v3", f.rolloutA("v3", "h2"))
				if err == nil && r.Stopped == "" {
					err = errors.New("step fail: the release of v3 was expected to stop at h2, but it rolled out")
				}
			}
		case "rollback":
			r, err = f.measured(ctx, "rollback", "rollback to "+f.good, f.good, f.rollback(f.good))
		}
		if r != nil {
			results = append(results, r)
			if r.Stopped == "" {
				f.good = r.To
			}
		}
		if err != nil {
			return results, err
		}
	}
	return results, nil
}

// build compiles start_server and the example worker as v1, v2 and v3, at
// the same time. It blocks until all four are built.
func (f *fleet) build(ctx context.Context, dir string) error {
	fmt.Fprintf(f.out, "fleet: building start_server and the example worker v1, v2, v3...\n")
	type job struct{ name, pkg, out, flags string }
	jobs := []job{{"start_server", "./05-full-starter", dir, ""}}
	for _, v := range []string{"v1", "v2", "v3"} {
		jobs = append(jobs, job{v, "./05-full-starter/example", filepath.Join(dir, v), "-ldflags=-X main.version=" + v})
	}
	errs := make(chan error, len(jobs))
	bins := make([]string, len(jobs))
	for i, j := range jobs {
		go func() {
			if err := os.MkdirAll(j.out, 0o755); err != nil {
				errs <- err
				return
			}
			var flags []string
			if j.flags != "" {
				flags = append(flags, j.flags)
			}
			var err error
			bins[i], err = proc.Build(j.pkg, j.out, flags...)
			errs <- err
		}()
	}
	var first error
	for range jobs {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	for i, j := range jobs {
		f.artifacts[j.name] = bins[i]
	}
	return ctx.Err()
}

// ensure hot-deploys version to every host that is not on it, without load
// and without measuring: the starting point of a step.
func (f *fleet) ensure(ctx context.Context, version string) error {
	var moved []string
	for _, h := range f.hosts {
		if h.version == version {
			continue
		}
		if err := h.deploy(f.artifacts[version], version, false); err != nil {
			return err
		}
		if err := h.restart(ctx); err != nil {
			return fmt.Errorf("%s: back to %s: %w", h.name, version, err)
		}
		if _, err := h.health(ctx, version, 10*time.Second); err != nil {
			return err
		}
		moved = append(moved, h.name)
	}
	if len(moved) > 0 {
		fmt.Fprintf(f.out, "\n(unmeasured: %s back on %s with start_server --restart)\n", strings.Join(moved, ", "), version)
	}
	f.good = version
	return nil
}

// rollback hot-deploys version to every host that runs another one.
func (f *fleet) rollback(version string) func(context.Context, func(string, ...any)) error {
	return func(ctx context.Context, event func(string, ...any)) error {
		for _, h := range f.hosts {
			if h.version == version && h.serving == version {
				continue
			}
			t0 := time.Now()
			from := h.serving
			if err := h.deploy(f.artifacts[version], version, false); err != nil {
				return err
			}
			if err := h.restart(ctx); err != nil {
				return fmt.Errorf("%w: rollback stopped at %s: %v", errStopped, h.name, err)
			}
			if _, err := h.health(ctx, version, 10*time.Second); err != nil {
				return fmt.Errorf("%w: rollback stopped at %s: %v", errStopped, h.name, err)
			}
			event("%s: %s → %s with start_server --restart, serving after %v", h.name, from, version, time.Since(t0).Round(time.Millisecond))
		}
		return nil
	}
}

func (f *fleet) versions() map[string]string {
	m := map[string]string{}
	for _, h := range f.hosts {
		m[h.name] = h.serving
	}
	return m
}

// versionsLine is "h1 runs v3, h2 and h3 keep v2"-like: who serves what.
func (f *fleet) versionsLine() string {
	by := map[string][]string{}
	for _, h := range f.hosts {
		by[h.serving] = append(by[h.serving], h.name)
	}
	vers := make([]string, 0, len(by))
	for v := range by {
		vers = append(vers, v)
	}
	sort.Slice(vers, func(i, j int) bool { return by[vers[i]][0] < by[vers[j]][0] })
	parts := make([]string, len(vers))
	for i, v := range vers {
		verb := "serve"
		if len(by[v]) == 1 {
			verb = "serves"
		}
		parts[i] = fmt.Sprintf("%s %s %s", strings.Join(by[v], ", "), verb, v)
	}
	return strings.Join(parts, "; ")
}

func allSame(m map[string]string) bool {
	seen := map[string]bool{}
	for _, v := range m {
		seen[v] = true
	}
	return len(seen) <= 1
}

// teardown stops what the run started, then undoes the journal (which also
// catches anything the orderly stop missed).
func (f *fleet) teardown() {
	f.lb.stop()
	for _, h := range f.hosts {
		h.kill(30 * time.Second)
	}
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	if err := cleanup(f.j.path, 10*time.Second, logf); err != nil {
		fmt.Fprintf(os.Stderr, "fleet: cleanup: %v\n", err)
	}
	f.j.close()
	if f.net != nil {
		fmt.Fprintf(f.out, "fleet: removed namespaces %s…%s, bridge %s and veth links; every process it started has exited\n",
			f.net.nsName(1), f.net.nsName(f.opt.hosts), f.net.bridge)
	}
}

func writeJSON(path string, f *fleet, rs []*stepResult) error {
	v := struct {
		Prefix   string            `json:"prefix"`
		Steps    []*stepResult     `json:"steps"`
		Versions map[string]string `json:"versions"`
	}{Steps: rs, Versions: f.versions()}
	if f.net != nil {
		v.Prefix = f.net.prefix
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// cleanupMain is "fleet cleanup -work DIR": scripts/fleet.sh's trap runs it
// after the driver exited, in case the driver could not clean up itself
// (killed with SIGKILL, crashed).
func cleanupMain(args []string) int {
	fs := flag.NewFlagSet("cleanup", flag.ContinueOnError)
	work := fs.String("work", "", "the run's directory")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *work == "" {
		fmt.Fprintln(os.Stderr, "fleet cleanup: -work DIR is required")
		return 2
	}
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	if err := cleanup(filepath.Join(*work, "journal"), 10*time.Second, logf); err != nil {
		fmt.Fprintf(os.Stderr, "fleet cleanup: %v\n", err)
		return 1
	}
	return 0
}
