// Command comparebench measures Perl's start_server (Server::Starter) and
// ours side by side, like with like, on loopback and OS-chosen ports, and
// prints a Markdown table. scripts/compare-perl.sh builds the binaries and
// runs it; it is not part of go test.
//
// The columns are starter × worker:
//   - Perl's start_server and ours with the same Perl-protocol worker
//     (05-full-starter/internal/perlworker: SERVER_STARTER_PORT only, never
//     READY=1), so both judge it by --interval (1 s);
//   - ours with that worker and the socket on "=4", which leaves fd 3 empty,
//     so LISTEN_FDS is not set and no LISTEN_PID is needed: the baseline for
//     what LISTEN_PID costs;
//   - ours with the example worker, which says READY=1, with the default fds
//     and with "=4".
//
// The rows, all from one run, the variants interleaved round by round so
// that a shared machine's noise hits all of them alike:
//   - the floor: the bare worker, forked and exec'ed by this program with
//     the socket on fd 3, from fork until its first response;
//   - HUP → new worker serving: a request is queued on the listening socket
//     before the HUP while the old worker is paused (SIGSTOP, so it cannot
//     take it), and answered by the new worker's first accept; the old
//     worker is resumed right after;
//   - HUP → old worker exited;
//   - `start_server --restart` → it returned (it sends the HUP itself and
//     waits until only the new generation is left);
//   - a storm of 50 HUPs, 2 ms apart, under load: workers started, time
//     until one worker is left (and stays alone), failed requests;
//   - failed requests per restart under load, keep-alive off and on;
//   - throughput through the starter ÷ the bare worker's;
//   - the starter's fds before and after 400 restarts (READY=1 worker), its
//     resident memory, and its CPU time while idle.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"hotdeploy/internal/load"
	"hotdeploy/internal/proc"
)

// variant is one column: a starter running a worker.
type variant struct {
	name   string
	bin    string // start_server
	worker string // the worker binary
	port   string // the --port value
	silent bool   // the worker never says READY=1
	perl   bool
	load   bool // measured under load, for throughput and idle CPU
}

type config struct {
	clients, restarts, samples, storm, fdRestarts int
	tputTime                                      time.Duration
	tputRounds                                    int
	idleTime                                      time.Duration
	hold, timeout, gap                            time.Duration
	variants                                      []*variant
	workers                                       map[string]string // worker name → binary
}

// result is what was measured for one variant.
type result struct {
	serving, oldExited, restartCmd []time.Duration
	stormStarted                   int
	stormSettle                    time.Duration
	stormErr                       string
	errs                           map[bool]string // keep-alive → "0.0 — 0 of N"
	rps                            float64
	fdsBefore, fdsAfter            int
	rssKiB, idleTicks              int
}

func main() {
	perl := flag.String("perl", "/usr/bin/start_server", "Perl's start_server")
	ours := flag.String("ours", "", "our start_server binary (required)")
	perlWorker := flag.String("perlworker", "", "the Perl-protocol worker binary (required)")
	example := flag.String("example", "", "the example worker binary, which says READY=1 (required)")
	cfg := config{timeout: 30 * time.Second}
	flag.IntVar(&cfg.clients, "clients", 50, "concurrent clients for the restarts under load")
	flag.IntVar(&cfg.restarts, "restarts", 3, "HUP restarts under load, per keep-alive mode")
	flag.IntVar(&cfg.samples, "hups", 15, "HUPs per variant for each latency row")
	flag.IntVar(&cfg.storm, "storm", 50, "HUPs in the storm")
	flag.IntVar(&cfg.fdRestarts, "fd-restarts", 400, "restarts between the two fd counts")
	flag.DurationVar(&cfg.tputTime, "tput", 2*time.Second, "length of one throughput round per target")
	flag.IntVar(&cfg.tputRounds, "rounds", 5, "throughput rounds, interleaved (the median is reported)")
	flag.DurationVar(&cfg.idleTime, "idle", 5*time.Second, "idle CPU measurement window")
	flag.DurationVar(&cfg.gap, "gap", 300*time.Millisecond, "pause after each latency cycle (deploys come seconds apart; every starter settles)")
	flag.DurationVar(&cfg.hold, "hold", time.Second, "load on each generation after a restart, at least")
	pick := flag.String("variants", "", "run only the columns whose name contains this text")
	only := flag.String("only", "", "run only the floor and HUP-latency rows (\"latency\"), for a quick look")
	flag.Parse()
	if *ours == "" || *perlWorker == "" || *example == "" {
		fmt.Fprintln(os.Stderr, "comparebench: -ours, -perlworker and -example are required")
		os.Exit(2)
	}
	cfg.workers = map[string]string{"perlworker": *perlWorker, "example": *example}
	cfg.variants = []*variant{
		{name: "Perl start_server 0.35, perlworker", bin: *perl, worker: *perlWorker, port: "127.0.0.1:0", silent: true, perl: true, load: true},
		{name: "ours, perlworker", bin: *ours, worker: *perlWorker, port: "127.0.0.1:0", silent: true, load: true},
		{name: "ours, perlworker, socket on fd 4 (no LISTEN_FDS)", bin: *ours, worker: *perlWorker, port: "127.0.0.1:0=4", silent: true},
		{name: "ours, example (READY=1)", bin: *ours, worker: *example, port: "127.0.0.1:0", load: true},
		{name: "ours, example (READY=1), socket on fd 4 (no LISTEN_FDS)", bin: *ours, worker: *example, port: "127.0.0.1:0=4"},
	}
	if *pick != "" {
		var vs []*variant
		for _, v := range cfg.variants {
			if strings.Contains(v.name, *pick) {
				vs = append(vs, v)
			}
		}
		cfg.variants = vs
	}
	results := map[*variant]*result{}
	for _, v := range cfg.variants {
		results[v] = &result{errs: map[bool]string{}}
	}
	go stopOnSignal()
	floors, err := floorPhase(cfg)
	check(err)
	check(latencyPhase(cfg, results))
	var bare map[string]float64
	if *only != "latency" {
		check(stormPhase(cfg, results))
		check(loadPhase(cfg, results))
		bare, err = throughputPhase(cfg, results)
		check(err)
		check(fdPhase(cfg, results))
	}
	printTable(cfg, floors, bare, results)
}

// check exits 1 on err, unless an interrupt is being handled: then
// stopOnSignal exits, once every starter is stopped (the error is likely
// one of them stopping under a phase).
func check(err error) {
	if err == nil {
		return
	}
	select {
	case <-interrupted:
		select {}
	default:
	}
	fmt.Fprintln(os.Stderr, "comparebench:", err)
	os.Exit(1)
}

func progress(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

// instance is a running starter.
type instance struct {
	v                   *variant
	p                   *proc.Process
	dir                 string
	statusFile, pidFile string
	addr                string
	stopOnce            sync.Once
}

// interrupted is closed when stopOnSignal starts stopping everything.
var interrupted = make(chan struct{})

// live are the instances running now: what an interrupted comparison stops.
var live = struct {
	sync.Mutex
	m map[*instance]bool
}{m: map[*instance]bool{}}

// stopOnSignal waits for SIGINT, SIGTERM or SIGHUP to this program, then
// stops every running starter (their workers with them) and removes their
// directories, and exits 1. Without it an interrupted comparison would leave
// its starters running: each is in a process group of its own.
func stopOnSignal() {
	sigC := make(chan os.Signal, 1)
	signal.Notify(sigC, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	sig := <-sigC
	close(interrupted)
	live.Lock()
	var all []*instance
	for in := range live.m {
		all = append(all, in)
	}
	live.Unlock()
	progress("comparebench: %v: stopping the %d starters it runs", sig, len(all))
	var wg sync.WaitGroup
	for _, in := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in.stop()
		}()
	}
	wg.Wait()
	os.Exit(1)
}

func start(cfg config, v *variant) (*instance, error) {
	dir, err := os.MkdirTemp("", "comparebench-")
	if err != nil {
		return nil, err
	}
	in := &instance{v: v, dir: dir, statusFile: filepath.Join(dir, "status"), pidFile: filepath.Join(dir, "pid")}
	in.p, err = proc.Start(v.bin, "--port="+v.port, "--status-file="+in.statusFile, "--pid-file="+in.pidFile, "--", v.worker)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	live.Lock()
	live.m[in] = true
	live.Unlock()
	if _, err := in.waitStatus(cfg.timeout, func(st map[int]int) bool { return st[1] != 0 }); err != nil {
		in.stop()
		return nil, err
	}
	if in.addr, err = proc.WaitListenAddr(in.p.PID(), cfg.timeout); err != nil {
		in.stop()
		return nil, err
	}
	return in, nil
}

// stop stops the starter (TERM, then KILL to its group after 30 s) and
// removes its directory. Safe to call more than once and concurrently.
func (in *instance) stop() {
	in.stopOnce.Do(func() {
		_, _ = in.p.Stop(30 * time.Second)
		if left := in.p.Survivors(); len(left) > 0 {
			progress("comparebench: pid %d left %v behind; killing them", in.p.PID(), left)
			in.p.KillGroup()
		}
		os.RemoveAll(in.dir)
		live.Lock()
		delete(live.m, in)
		live.Unlock()
	})
}

func (in *instance) waitStatus(timeout time.Duration, cond func(map[int]int) bool) (map[int]int, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := readStatus(in.statusFile)
		if err == nil && cond(st) {
			return st, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: status file %v (err %v) after %v; output:\n%s", in.v.name, st, err, timeout, in.p.Output())
		}
		time.Sleep(time.Millisecond)
	}
}

// current returns the only generation in the status file and its pid.
func (in *instance) current() (gen, pid int, err error) {
	st, err := readStatus(in.statusFile)
	if err != nil || len(st) != 1 {
		return 0, 0, fmt.Errorf("%s: status file %v, want one generation (%v)", in.v.name, st, err)
	}
	for g, p := range st {
		gen, pid = g, p
	}
	return gen, pid, nil
}

// settle waits until generation gen is the only one and the worker pid has
// exited.
func (in *instance) settle(cfg config, gen, old int) error {
	if _, err := in.waitStatus(cfg.timeout, func(st map[int]int) bool { return len(st) == 1 && st[gen] != 0 }); err != nil {
		return err
	}
	deadline := time.Now().Add(cfg.timeout)
	for !proc.Exited(old) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: old worker %d still running", in.v.name, old)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
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

// probe is a request queued on a listening socket before anyone accepts it.
type probe struct {
	c net.Conn
	r *bufio.Reader
}

func newProbe(addr string) (*probe, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	return &probe{c, bufio.NewReader(c)}, nil
}

// answer waits for the response and returns the time it arrived and the
// X-Pid that answered.
func (p *probe) answer(timeout time.Duration) (time.Time, int, error) {
	defer p.c.Close()
	p.c.SetDeadline(time.Now().Add(timeout))
	resp, err := http.ReadResponse(p.r, nil)
	at := time.Now()
	if err != nil {
		return at, 0, err
	}
	resp.Body.Close()
	pid, _ := strconv.Atoi(resp.Header.Get("X-Pid"))
	return at, pid, nil
}

// floorPhase measures, for each worker, fork+exec → first response with
// no starter at all: this program holds the socket, queues a request on
// it, and starts the worker with the socket on fd 3 as a starter would.
func floorPhase(cfg config) (map[string][]time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	addr := ln.Addr().String()
	out := map[string][]time.Duration{}
	names := sortedKeys(cfg.workers)
	for i := range cfg.samples {
		progress("floor round %d of %d", i+1, cfg.samples)
		for _, name := range names {
			pr, err := newProbe(addr)
			if err != nil {
				return nil, err
			}
			cmd := exec.Command(cfg.workers[name])
			cmd.ExtraFiles = []*os.File{f}
			cmd.Env = append(os.Environ(), "SERVER_STARTER_PORT="+addr+"=3", "SERVER_STARTER_GENERATION=1")
			t0 := time.Now()
			if err := cmd.Start(); err != nil {
				return nil, err
			}
			at, pid, err := pr.answer(cfg.timeout)
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			if err != nil || pid != cmd.Process.Pid {
				return nil, fmt.Errorf("floor %s: answered by pid %d, want %d (%v)", name, pid, cmd.Process.Pid, err)
			}
			out[name] = append(out[name], at.Sub(t0))
		}
	}
	return out, nil
}

// latencyPhase runs the three kinds of HUP cycles on one instance of every
// variant, interleaved: round by round, kind by kind, variant by variant.
func latencyPhase(cfg config, results map[*variant]*result) error {
	ins := map[*variant]*instance{}
	for _, v := range cfg.variants {
		in, err := start(cfg, v)
		if err != nil {
			return err
		}
		defer in.stop()
		ins[v] = in
	}
	for round := range cfg.samples {
		progress("HUP round %d of %d", round+1, cfg.samples)
		for _, kind := range []string{"serving", "exited", "restart"} {
			if kind != "serving" && round%2 == 1 {
				continue // half as many of these: they are less noisy
			}
			for _, v := range cfg.variants {
				if err := cycle(cfg, ins[v], kind, results[v]); err != nil {
					return err
				}
			}
		}
	}
	// Idle CPU and memory of the starters that just did all this.
	for _, v := range cfg.variants {
		r, err := proc.RSS(ins[v].p.PID())
		if err != nil {
			return err
		}
		results[v].rssKiB = r
	}
	progress("idle CPU, %v", cfg.idleTime)
	before := map[*variant]int{}
	for _, v := range cfg.variants {
		t, err := proc.CPUTicks(ins[v].p.PID())
		if err != nil {
			return err
		}
		before[v] = t
	}
	time.Sleep(cfg.idleTime) // the measurement window itself
	for _, v := range cfg.variants {
		t, err := proc.CPUTicks(ins[v].p.PID())
		if err != nil {
			return err
		}
		results[v].idleTicks = t - before[v]
	}
	return nil
}

// cycle does one restart of in and records its latency of the given kind.
func cycle(cfg config, in *instance, kind string, r *result) error {
	gen, old, err := in.current()
	if err != nil {
		return err
	}
	switch kind {
	case "serving":
		if err := syscall.Kill(old, syscall.SIGSTOP); err != nil {
			return err
		}
		if err := waitStopped(old, cfg.timeout); err != nil {
			syscall.Kill(old, syscall.SIGCONT)
			return err
		}
		pr, err := newProbe(in.addr)
		if err != nil {
			syscall.Kill(old, syscall.SIGCONT)
			return err
		}
		t0 := time.Now()
		err = in.p.Signal(syscall.SIGHUP)
		var at time.Time
		var pid int
		if err == nil {
			at, pid, err = pr.answer(cfg.timeout)
		}
		syscall.Kill(old, syscall.SIGCONT)
		if err != nil {
			return fmt.Errorf("%s: probe: %w; output:\n%s", in.v.name, err, in.p.Output())
		}
		if pid == old {
			return fmt.Errorf("%s: probe answered by the paused old worker %d", in.v.name, old)
		}
		r.serving = append(r.serving, at.Sub(t0))
	case "exited":
		t0 := time.Now()
		if err := in.p.Signal(syscall.SIGHUP); err != nil {
			return err
		}
		deadline := t0.Add(cfg.timeout)
		for !proc.Exited(old) {
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: old worker %d still running %v after HUP", in.v.name, old, cfg.timeout)
			}
			time.Sleep(200 * time.Microsecond)
		}
		r.oldExited = append(r.oldExited, time.Since(t0))
	case "restart":
		cmd := exec.Command(in.v.bin, "--restart", "--pid-file="+in.pidFile, "--status-file="+in.statusFile)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: --restart: %w: %s", in.v.name, err, out.String())
		}
		r.restartCmd = append(r.restartCmd, time.Since(t0))
	}
	err = in.settle(cfg, gen+1, old)
	time.Sleep(cfg.gap)
	return err
}

// waitStopped waits until every thread of pid is stopped (SIGSTOP takes
// effect when each thread next enters the kernel, not at kill(2)).
func waitStopped(pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return err
		}
		stopped := len(tasks) > 0
		for _, t := range tasks {
			f, err := proc.StatFields(pid) // fallback: the process's own state
			if b, rerr := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, t.Name())); rerr == nil {
				if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
					f, err = []string{string(b[i+2])}, nil
				}
			}
			if err != nil || (f[0] != "T" && f[0] != "t") {
				stopped = false
			}
		}
		if stopped {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("worker %d not stopped after %v", pid, timeout)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// stormPhase sends HUPs 2 ms apart to a starter of every variant that
// says READY=1 or is Perl's or ours with the default fds, under load, and
// waits until one worker is left and stays alone for 1.5 s (longer than
// --interval).
func stormPhase(cfg config, results map[*variant]*result) error {
	for _, v := range cfg.variants {
		if strings.Contains(v.port, "=") {
			continue
		}
		progress("%s: storm of %d HUPs", v.name, cfg.storm)
		in, err := start(cfg, v)
		if err != nil {
			return err
		}
		err = storm(cfg, in, results[v])
		in.stop()
		if err != nil {
			return err
		}
	}
	return nil
}

func storm(cfg config, in *instance, r *result) error {
	gen0, _, err := in.current()
	if err != nil {
		return err
	}
	run, err := load.Start(load.Config{Addr: in.addr, Clients: 10, MaxRequests: 10_000_000,
		MaxDuration: 5 * time.Minute, Timeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer run.Stop()
	if !run.WaitFor(func(rep load.Report) bool { return rep.OK >= 200 }, cfg.timeout) {
		return fmt.Errorf("%s: no load served: %v", in.v.name, run.Snapshot())
	}
	t0 := time.Now()
	for range cfg.storm {
		if err := in.p.Signal(syscall.SIGHUP); err != nil {
			return err
		}
		time.Sleep(2 * time.Millisecond)
	}
	var aloneSince time.Time
	deadline := t0.Add(5 * time.Minute)
	for {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: more than one worker 5 min after the storm", in.v.name)
		}
		st, _ := readStatus(in.statusFile)
		kids := workers(in.p.PID())
		alone := len(st) == 1 && len(kids) == 1
		for _, pid := range st {
			alone = alone && kids[0] == pid
		}
		switch {
		case !alone:
			aloneSince = time.Time{}
		case aloneSince.IsZero():
			aloneSince = time.Now()
		case time.Since(aloneSince) >= 1500*time.Millisecond:
			r.stormSettle = aloneSince.Sub(t0)
			gen, _, err := in.current()
			if err != nil {
				return err
			}
			r.stormStarted = gen - gen0
			rep := run.Stop()
			r.stormErr = fmt.Sprintf("%d of %d", rep.Failed(), rep.Sent)
			return nil
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// workers lists the children of pid that are not parked exec shims.
func workers(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := proc.StatFields(child)
		if err != nil || f[0] == "Z" || f[1] != strconv.Itoa(pid) {
			continue
		}
		if cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline"); bytes.HasPrefix(cmdline, []byte("start_server-exec-shim\x00")) {
			continue
		}
		out = append(out, child)
	}
	return out
}

// loadPhase: failed requests per restart under load, for the variants with
// the default fds.
func loadPhase(cfg config, results map[*variant]*result) error {
	for _, v := range cfg.variants {
		if !v.load {
			continue
		}
		for _, ka := range []bool{false, true} {
			progress("%s: %d restarts under load, keep-alive=%v", v.name, cfg.restarts, ka)
			if err := restartsUnderLoad(cfg, v, ka, results[v]); err != nil {
				return err
			}
		}
	}
	return nil
}

// restartsUnderLoad HUPs a fresh starter cfg.restarts times while clients
// hammer it, each time waiting until the new worker has served 200
// requests and the old one is gone.
func restartsUnderLoad(cfg config, v *variant, keepAlive bool, r *result) error {
	in, err := start(cfg, v)
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
		until := run.Snapshot().Elapsed + cfg.hold
		run.WaitFor(func(rep load.Report) bool { return rep.Elapsed >= until }, cfg.hold+cfg.timeout)
	}
	rep := run.Stop()
	var parts []string
	for _, c := range load.Classes {
		if rep.Errors[c] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c, rep.Errors[c]))
		}
	}
	r.errs[keepAlive] = fmt.Sprintf("%.1f — %d of %d", float64(rep.Failed())/float64(cfg.restarts), rep.Failed(), rep.Sent)
	if len(parts) > 0 {
		r.errs[keepAlive] += " (" + strings.Join(parts, ", ") + ")"
	}
	return nil
}

// throughputPhase measures requests per second through each load variant
// and to each bare worker (this program binds the socket and hands it over
// on fd 3), interleaved round by round, and reports the medians.
func throughputPhase(cfg config, results map[*variant]*result) (map[string]float64, error) {
	addrs := map[string]string{}
	for name, bin := range cfg.workers {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		f, err := ln.(*net.TCPListener).File()
		ln.Close()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(bin)
		cmd.ExtraFiles = []*os.File{f}
		cmd.Env = append(os.Environ(), "SERVER_STARTER_PORT="+ln.Addr().String()+"=3", "SERVER_STARTER_GENERATION=1")
		p, err := proc.StartCmd(cmd)
		f.Close()
		if err != nil {
			return nil, err
		}
		defer func() { _, _ = p.Stop(30 * time.Second) }()
		addrs["bare "+name] = ln.Addr().String()
	}
	byName := map[string]*variant{}
	for _, v := range cfg.variants {
		if !v.load {
			continue
		}
		in, err := start(cfg, v)
		if err != nil {
			return nil, err
		}
		defer in.stop()
		addrs[v.name] = in.addr
		byName[v.name] = v
	}
	rps := map[string][]float64{}
	for round := range cfg.tputRounds {
		progress("throughput round %d of %d", round+1, cfg.tputRounds)
		for _, name := range sortedKeys(addrs) {
			run, err := load.Start(load.Config{Addr: addrs[name], Clients: cfg.clients, MaxRequests: 100_000_000,
				MaxDuration: cfg.tputTime, KeepAlive: true})
			if err != nil {
				return nil, err
			}
			rep := run.Wait()
			if rep.Failed() > 0 {
				return nil, fmt.Errorf("throughput run on %s: %v", name, rep)
			}
			rps[name] = append(rps[name], float64(rep.OK)/rep.Elapsed.Seconds())
		}
	}
	bare := map[string]float64{}
	for name := range cfg.workers {
		bare[name] = median(rps["bare "+name])
	}
	for name, v := range byName {
		results[v].rps = median(rps[name])
	}
	return bare, nil
}

// fdPhase counts the fds of ours (READY=1 worker, default fds) before and
// after cfg.fdRestarts restarts.
func fdPhase(cfg config, results map[*variant]*result) error {
	for _, v := range cfg.variants {
		if v.silent || strings.Contains(v.port, "=") {
			continue
		}
		progress("%s: fds over %d restarts", v.name, cfg.fdRestarts)
		in, err := start(cfg, v)
		if err != nil {
			return err
		}
		defer in.stop()
		// Counted after a quiet second, so that what a restart closes
		// asynchronously (the old worker's NOTIFY_SOCKET once it is reaped)
		// is closed (and, where workers start through the exec shim, the next
		// one is parked: its pipe is open).
		count := func() int {
			time.Sleep(time.Second)
			e, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", in.p.PID()))
			return len(e)
		}
		results[v].fdsBefore = count()
		for range cfg.fdRestarts {
			gen, old, err := in.current()
			if err != nil {
				return err
			}
			if err := in.p.Signal(syscall.SIGHUP); err != nil {
				return err
			}
			if err := in.settle(cfg, gen+1, old); err != nil {
				return err
			}
		}
		results[v].fdsAfter = count()
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
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

func medianD(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// ms formats a duration in milliseconds with two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

func durations(ds []time.Duration) string {
	if len(ds) == 0 {
		return "—"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return fmt.Sprintf("%s (%s–%s)", ms(s[len(s)/2]), strings.TrimSuffix(ms(s[0]), " ms"), ms(s[len(s)-1]))
}

func workerName(cfg config, v *variant) string {
	for n, b := range cfg.workers {
		if b == v.worker {
			return n
		}
	}
	return "?"
}

func printTable(cfg config, floors map[string][]time.Duration, bare map[string]float64, results map[*variant]*result) {
	row := func(label string, f func(v *variant, r *result) string) {
		cells := []string{label}
		for _, v := range cfg.variants {
			cells = append(cells, f(v, results[v]))
		}
		fmt.Println("| " + strings.Join(cells, " | ") + " |")
	}
	fmt.Print("| measure (median (min–max)) |")
	for _, v := range cfg.variants {
		fmt.Printf(" %s |", v.name)
	}
	fmt.Println()
	fmt.Println("|---" + strings.Repeat("|---", len(cfg.variants)) + "|")
	n := cfg.samples
	half := (cfg.samples + 1) / 2
	row(fmt.Sprintf("floor: bare worker, fork+exec → first response (%d each)", n),
		func(v *variant, r *result) string { return durations(floors[workerName(cfg, v)]) })
	row(fmt.Sprintf("HUP → new worker serving (%d HUPs)", n),
		func(v *variant, r *result) string { return durations(r.serving) })
	row("HUP → new worker serving, minus the floor (ratio: ÷ floor)",
		func(v *variant, r *result) string {
			s, f := medianD(r.serving), medianD(floors[workerName(cfg, v)])
			return fmt.Sprintf("%s (%.2f×)", ms(s-f), float64(s)/float64(f))
		})
	row(fmt.Sprintf("HUP → old worker exited (%d HUPs)", half),
		func(v *variant, r *result) string { return durations(r.oldExited) })
	row(fmt.Sprintf("`start_server --restart` → returned, new generation alone (%d runs)", half),
		func(v *variant, r *result) string { return durations(r.restartCmd) })
	row(fmt.Sprintf("storm: %d HUPs 2 ms apart, 10 clients: workers started; HUP → one worker left; failed requests", cfg.storm),
		func(v *variant, r *result) string {
			if r.stormStarted == 0 {
				return "—"
			}
			return fmt.Sprintf("%d; %s; %s", r.stormStarted, r.stormSettle.Round(time.Millisecond), r.stormErr)
		})
	for _, ka := range []bool{false, true} {
		row(fmt.Sprintf("failed requests per restart, %d clients, keep-alive %s (%d restarts)", cfg.clients, onOff(ka), cfg.restarts),
			func(v *variant, r *result) string { return or(r.errs[ka]) })
	}
	row(fmt.Sprintf("throughput, keep-alive, median of %d × %v: req/s (ratio: ÷ the same worker bare, %.0f / %.0f req/s perlworker / example)",
		cfg.tputRounds, cfg.tputTime, bare["perlworker"], bare["example"]),
		func(v *variant, r *result) string {
			if r.rps == 0 {
				return "—"
			}
			return fmt.Sprintf("%.0f (%.3f×)", r.rps, r.rps/bare[workerName(cfg, v)])
		})
	row(fmt.Sprintf("starter's open fds before → after %d restarts", cfg.fdRestarts),
		func(v *variant, r *result) string {
			if r.fdsBefore == 0 {
				return "—"
			}
			return fmt.Sprintf("%d → %d", r.fdsBefore, r.fdsAfter)
		})
	row("starter RSS (VmRSS) after the HUP rows", func(v *variant, r *result) string { return fmt.Sprintf("%d KiB", r.rssKiB) })
	row(fmt.Sprintf("starter CPU while idle for %v (utime+stime, 10 ms ticks)", cfg.idleTime),
		func(v *variant, r *result) string { return fmt.Sprintf("%d", r.idleTicks) })
}

func or(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
