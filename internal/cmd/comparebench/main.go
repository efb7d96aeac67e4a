// Command comparebench measures Perl's start_server (Server::Starter) and
// ours side by side, like with like, on loopback and OS-chosen ports, and
// prints a Markdown table. scripts/compare-perl.sh builds the binaries and
// runs it; it is not part of go test.
//
// The columns are starter × worker × how ours starts its workers:
//   - Perl's start_server and ours with the same Perl-protocol worker
//     (05-full-starter/internal/perlworker: SERVER_STARTER_PORT only, never
//     READY=1), so both judge it by --interval (1 s);
//   - ours, "default": the options a Perl command line has. The worker gets
//     the socket on fd 3, SERVER_STARTER_PORT and no systemd variables
//     (LISTEN_*), and is started by one fork+exec of the worker binary;
//   - ours, "socket on fd 4": the same with --port=127.0.0.1:0=4 (fd 3 left
//     empty). Nothing in the start path depends on the fd number, so this
//     column is a control: it differs from "default" by the noise alone;
//   - ours, "--listen-fds (exec shim)": the worker also gets LISTEN_FDS,
//     LISTEN_FDNAMES and LISTEN_PID. start_server forks and executes itself
//     as start_server-exec-shim, which sets LISTEN_PID to its own pid and
//     executes the worker: two execs per start, the first a Go program's
//     start-up;
//   - ours, the same three with the example worker, which says READY=1.
//
// Each starter's first worker is checked before anything is measured: under
// "--listen-fds" it has LISTEN_FDS=1 and LISTEN_PID = its own pid (the shim
// ran); in every other column it has no LISTEN_* variable.
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
//   - the starter's fds before and after 400 restarts (READY=1 worker);
//   - the starter's resident memory, and its CPU time while idle.
//
// The storm, load, throughput and fd rows are measured for Perl's and for
// ours "default" and "--listen-fds" (fds: the READY=1 worker's only, since
// 400 restarts of the silent one take 400 × --interval); "socket on fd 4"
// has the latency, memory and CPU rows.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// variant is one column: a starter running a worker.
type variant struct {
	name   string
	bin    string   // start_server
	opts   []string // options besides --port and the files (--listen-fds)
	worker string   // the worker binary
	port   string   // the --port value
	silent bool     // the worker never says READY=1
	full   bool     // also in the storm, load, throughput and fd rows
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
		{name: "Perl start_server 0.35, perlworker", bin: *perl, worker: *perlWorker, port: "127.0.0.1:0", silent: true, full: true},
	}
	for _, w := range []struct {
		name, bin string
		silent    bool
	}{{"perlworker", *perlWorker, true}, {"example (READY=1)", *example, false}} {
		cfg.variants = append(cfg.variants,
			&variant{name: "ours, " + w.name + ", default", bin: *ours, worker: w.bin, port: "127.0.0.1:0", silent: w.silent, full: true},
			&variant{name: "ours, " + w.name + ", socket on fd 4", bin: *ours, worker: w.bin, port: "127.0.0.1:0=4", silent: w.silent},
			&variant{name: "ours, " + w.name + ", --listen-fds (exec shim)", bin: *ours, opts: []string{"--listen-fds"},
				worker: w.bin, port: "127.0.0.1:0", silent: w.silent, full: true})
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
