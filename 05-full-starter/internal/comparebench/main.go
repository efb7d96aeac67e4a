// Command comparebench measures Perl's start_server (Server::Starter) and
// ours side by side, with the same worker and the same load, on loopback and
// OS-chosen ports, and prints a Markdown table. scripts/compare-perl.sh
// builds the binaries and runs it; it is not part of go test.
//
// What it measures, for each starter:
//   - failed requests per restart at N concurrent clients, keep-alive off
//     and on (HUP restarts under load);
//   - HUP → old worker signalled (the starter's log line saying so) and
//     HUP → old worker exited, without load;
//   - requests per second through the starter vs. the bare worker (the
//     starter is not in the data path, so this shows it is ~1);
//   - the starter's resident memory and its CPU time while idle.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"hotdeploy/05-full-starter/internal/bench"
	"hotdeploy/internal/load"
	"hotdeploy/internal/proc"
)

// starterUnderTest is one start_server implementation.
type starterUnderTest struct {
	name string
	bin  string
	args []string // extra options
	// signalled matches the log line printed when the old workers are
	// signalled.
	signalled *regexp.Regexp
}

type config struct {
	worker      string
	clients     int
	restarts    int
	tputTime    time.Duration
	tputRounds  int
	idleTime    time.Duration
	hupSamples  int
	hold        time.Duration
	timeout     time.Duration
	starterList []starterUnderTest
}

// result is what was measured for one starter.
type result struct {
	errsPerRestart map[bool]float64 // keep-alive → failed requests per restart
	errDetail      map[bool]string
	signalled      []time.Duration // HUP → "old workers signalled" log line
	oldExited      []time.Duration // HUP → old worker exited
	rps            float64         // median through the starter (set by throughputPhase)
	rssKiB         int
	idleTicks      int
}

func main() {
	perl := flag.String("perl", "/usr/bin/start_server", "Perl's start_server")
	ours := flag.String("ours", "", "our start_server binary (required)")
	worker := flag.String("worker", "", "the worker binary, run under both (required)")
	clients := flag.Int("clients", 50, "concurrent clients")
	restarts := flag.Int("restarts", 3, "HUP restarts under load, per keep-alive mode")
	tput := flag.Duration("tput", 2*time.Second, "length of one throughput round per target")
	rounds := flag.Int("rounds", 7, "throughput rounds, interleaved (the median is reported)")
	idle := flag.Duration("idle", 5*time.Second, "idle CPU measurement window")
	samples := flag.Int("hups", 5, "HUPs without load, for the signal latency")
	hold := flag.Duration("hold", time.Second, "load on each generation after a restart, at least")
	tputOnly := flag.Bool("tput-only", false, "measure the throughput only")
	flag.Parse()
	if *ours == "" || *worker == "" {
		fmt.Fprintln(os.Stderr, "comparebench: -ours and -worker are required")
		os.Exit(2)
	}
	cfg := config{
		worker: *worker, clients: *clients, restarts: *restarts, tputTime: *tput, tputRounds: *rounds,
		idleTime: *idle, hupSamples: *samples, hold: *hold, timeout: 30 * time.Second,
		starterList: []starterUnderTest{
			{name: "Perl start_server 0.35", bin: *perl, signalled: regexp.MustCompile(`^killing old workers`)},
			{name: "ours", bin: *ours, signalled: regexp.MustCompile(`killing old workers`)},
		},
	}
	results := map[string]*result{}
	for _, s := range cfg.starterList {
		if *tputOnly {
			results[s.name] = &result{}
			continue
		}
		r, err := measure(cfg, s)
		if err != nil {
			fatal(fmt.Errorf("%s: %w", s.name, err))
		}
		results[s.name] = r
	}
	bare, err := throughputPhase(cfg, results)
	if err != nil {
		fatal(err)
	}
	if *tputOnly {
		fmt.Printf("bare %.0f req/s\n", bare)
		for _, s := range cfg.starterList {
			fmt.Printf("%s %.0f req/s (%.3f × bare)\n", s.name, results[s.name].rps, results[s.name].rps/bare)
		}
		return
	}
	printTable(cfg, bare, results)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "comparebench:", err)
	os.Exit(1)
}

// instance is a running starter.
type instance struct {
	p          *proc.Process
	statusFile string
	addr       string
}

func start(cfg config, s starterUnderTest) (*instance, error) {
	dir, err := os.MkdirTemp("", "comparebench-")
	if err != nil {
		return nil, err
	}
	in := &instance{statusFile: filepath.Join(dir, "status")}
	args := append([]string{"--port=127.0.0.1:0", "--status-file=" + in.statusFile}, s.args...)
	args = append(args, "--", cfg.worker)
	in.p, err = proc.Start(s.bin, args...)
	if err != nil {
		return nil, err
	}
	if _, err := in.waitStatus(cfg.timeout, func(st map[int]int) bool { return st[1] != 0 }); err != nil {
		in.stop()
		return nil, err
	}
	if in.addr, err = bench.WaitListenAddr(in.p.PID(), cfg.timeout); err != nil {
		in.stop()
		return nil, err
	}
	return in, nil
}

func (in *instance) stop() {
	_, _ = in.p.Stop(30 * time.Second)
	if left := in.p.Survivors(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "comparebench: pid %d left %v behind; killing them\n", in.p.PID(), left)
		in.p.KillGroup()
	}
	os.RemoveAll(filepath.Dir(in.statusFile))
}

func (in *instance) waitStatus(timeout time.Duration, cond func(map[int]int) bool) (map[int]int, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := readStatus(in.statusFile)
		if err == nil && cond(st) {
			return st, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("status file %v (err %v) after %v; output:\n%s", st, err, timeout, in.p.Output())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func readStatus(path string) (map[int]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	st := map[int]int{}
	for _, line := range strings.Fields(string(data)) {
		g, p, _ := strings.Cut(line, ":")
		gen, _ := strconv.Atoi(g)
		pid, _ := strconv.Atoi(p)
		st[gen] = pid
	}
	return st, nil
}

func measure(cfg config, s starterUnderTest) (*result, error) {
	r := &result{errsPerRestart: map[bool]float64{}, errDetail: map[bool]string{}}
	for _, ka := range []bool{false, true} {
		fmt.Fprintf(os.Stderr, "%s: %d restarts under load, keep-alive=%v\n", s.name, cfg.restarts, ka)
		if err := restartsUnderLoad(cfg, s, ka, r); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(os.Stderr, "%s: signal latency, memory, idle CPU\n", s.name)
	in, err := start(cfg, s)
	if err != nil {
		return nil, err
	}
	defer in.stop()
	for gen := 2; gen < 2+cfg.hupSamples; gen++ {
		st, err := readStatus(in.statusFile)
		if err != nil {
			return nil, err
		}
		old := st[gen-1]
		hup := time.Now()
		if err := in.p.Signal(syscall.SIGHUP); err != nil {
			return nil, err
		}
		if _, err := in.p.WaitLine(s.signalled, cfg.timeout); err != nil {
			return nil, err
		}
		r.signalled = append(r.signalled, time.Since(hup))
		for !bench.Exited(old) {
			if time.Since(hup) > cfg.timeout {
				return nil, fmt.Errorf("old worker %d still running %v after HUP", old, cfg.timeout)
			}
			time.Sleep(time.Millisecond)
		}
		r.oldExited = append(r.oldExited, time.Since(hup))
		if _, err := in.waitStatus(cfg.timeout, func(st map[int]int) bool { return len(st) == 1 && st[gen] != 0 }); err != nil {
			return nil, err
		}
	}
	if r.rssKiB, err = bench.RSS(in.p.PID()); err != nil {
		return nil, err
	}
	before, err := bench.CPUTicks(in.p.PID())
	if err != nil {
		return nil, err
	}
	time.Sleep(cfg.idleTime) // the measurement window itself
	after, err := bench.CPUTicks(in.p.PID())
	if err != nil {
		return nil, err
	}
	r.idleTicks = after - before
	return r, nil
}

// restartsUnderLoad HUPs a fresh starter cfg.restarts times while clients
// hammer it, each time waiting until the new worker has served 200
// requests and the old one is gone.
func restartsUnderLoad(cfg config, s starterUnderTest, keepAlive bool, r *result) error {
	in, err := start(cfg, s)
	if err != nil {
		return err
	}
	defer in.stop()
	run, err := load.Start(load.Config{Addr: in.addr, Clients: cfg.clients, MaxRequests: 10_000_000,
		MaxDuration: 5 * time.Minute, KeepAlive: keepAlive, Timeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer run.Stop()
	if !run.WaitFor(func(rep load.Report) bool { return rep.OK >= 500 }, cfg.timeout) {
		return fmt.Errorf("no load served: %v", run.Snapshot())
	}
	for gen := 2; gen < 2+cfg.restarts; gen++ {
		if err := in.p.Signal(syscall.SIGHUP); err != nil {
			return err
		}
		st, err := in.waitStatus(cfg.timeout, func(st map[int]int) bool { return st[gen] != 0 })
		if err != nil {
			return err
		}
		pid := st[gen]
		if !run.WaitFor(func(rep load.Report) bool { return rep.ByPID[pid] >= 200 }, cfg.timeout) {
			return fmt.Errorf("generation %d (pid %d) served no load: %v", gen, pid, run.Snapshot())
		}
		if _, err := in.waitStatus(cfg.timeout, func(st map[int]int) bool { return len(st) == 1 }); err != nil {
			return err
		}
		// Keep every generation under load for a while, so that both
		// starters serve comparable numbers of requests per restart.
		until := run.Snapshot().Elapsed + cfg.hold
		run.WaitFor(func(rep load.Report) bool { return rep.Elapsed >= until }, cfg.hold+cfg.timeout)
	}
	rep := run.Stop()
	fmt.Fprintf(os.Stderr, "%v", rep)
	r.errsPerRestart[keepAlive] = float64(rep.Failed()) / float64(cfg.restarts)
	var parts []string
	for _, c := range load.Classes {
		if rep.Errors[c] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c, rep.Errors[c]))
		}
	}
	r.errDetail[keepAlive] = fmt.Sprintf("%d of %d", rep.Failed(), rep.Sent)
	if len(parts) > 0 {
		r.errDetail[keepAlive] += " (" + strings.Join(parts, ", ") + ")"
	}
	return nil
}

// throughput puts keep-alive load on addr for cfg.tputTime and returns
// successful requests per second.
func throughput(cfg config, addr string) (float64, error) {
	run, err := load.Start(load.Config{Addr: addr, Clients: cfg.clients, MaxRequests: 100_000_000,
		MaxDuration: cfg.tputTime, KeepAlive: true})
	if err != nil {
		return 0, err
	}
	rep := run.Wait()
	if rep.Failed() > 0 {
		return 0, fmt.Errorf("throughput run on %s: %v", addr, rep)
	}
	return float64(rep.OK) / rep.Elapsed.Seconds(), nil
}

// throughputPhase measures requests per second through each starter and
// to the bare worker, interleaved round by round (a shared machine's noise
// then hits all of them alike), and reports the medians. The bare worker
// runs without any starter: this program binds the socket and hands it over
// as Server::Starter would (fd 3, SERVER_STARTER_PORT).
func throughputPhase(cfg config, results map[string]*result) (bare float64, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	f, err := ln.(*net.TCPListener).File()
	ln.Close()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(cfg.worker)
	cmd.ExtraFiles = []*os.File{f}
	cmd.Env = append(os.Environ(), "SERVER_STARTER_PORT="+ln.Addr().String()+"=3", "SERVER_STARTER_GENERATION=1")
	p, err := proc.StartCmd(cmd)
	f.Close()
	if err != nil {
		return 0, err
	}
	defer func() { _, _ = p.Stop(30 * time.Second) }()

	addrs := map[string]string{"bare": ln.Addr().String()}
	for _, s := range cfg.starterList {
		in, err := start(cfg, s)
		if err != nil {
			return 0, err
		}
		defer in.stop()
		addrs[s.name] = in.addr
	}
	rps := map[string][]float64{}
	for round := range cfg.tputRounds {
		fmt.Fprintf(os.Stderr, "throughput round %d of %d\n", round+1, cfg.tputRounds)
		for _, name := range sortedNames(addrs) {
			v, err := throughput(cfg, addrs[name])
			if err != nil {
				return 0, err
			}
			rps[name] = append(rps[name], v)
			fmt.Fprintf(os.Stderr, "  %s: %.0f req/s\n", name, v)
		}
	}
	for _, s := range cfg.starterList {
		results[s.name].rps = median(rps[s.name])
	}
	return median(rps["bare"]), nil
}

func sortedNames(m map[string]string) []string {
	var names []string
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func durations(ds []time.Duration) string {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return fmt.Sprintf("%v (min %v, max %v)", s[len(s)/2].Round(time.Millisecond),
		s[0].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}

func printTable(cfg config, bare float64, results map[string]*result) {
	var names []string
	for _, s := range cfg.starterList {
		names = append(names, s.name)
	}
	row := func(label string, f func(r *result) string) {
		cells := []string{label}
		for _, n := range names {
			cells = append(cells, f(results[n]))
		}
		fmt.Println("| " + strings.Join(cells, " | ") + " |")
	}
	fmt.Println("| measure | " + strings.Join(names, " | ") + " |")
	fmt.Println("|---" + strings.Repeat("|---", len(names)) + "|")
	for _, ka := range []bool{false, true} {
		row(fmt.Sprintf("failed requests per restart, %d clients, keep-alive %s (%d restarts)", cfg.clients, onOff(ka), cfg.restarts),
			func(r *result) string { return fmt.Sprintf("%.1f — %s", r.errsPerRestart[ka], r.errDetail[ka]) })
	}
	row(fmt.Sprintf("HUP → old worker signalled (log line), median of %d", cfg.hupSamples),
		func(r *result) string { return durations(r.signalled) })
	row(fmt.Sprintf("HUP → old worker exited, median of %d", cfg.hupSamples),
		func(r *result) string { return durations(r.oldExited) })
	row(fmt.Sprintf("throughput through the starter, keep-alive, median of %d × %v, req/s (bare worker: %.0f)", cfg.tputRounds, cfg.tputTime, bare),
		func(r *result) string { return fmt.Sprintf("%.0f (%.3f × bare)", r.rps, r.rps/bare) })
	row("starter RSS (VmRSS)", func(r *result) string { return fmt.Sprintf("%d KiB", r.rssKiB) })
	row(fmt.Sprintf("starter CPU while idle for %v (utime+stime)", cfg.idleTime),
		func(r *result) string { return fmt.Sprintf("%d ticks (%d ms)", r.idleTicks, r.idleTicks*10) })
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
