package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"hotdeploy/internal/proc"
)

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
	args := append(append([]string(nil), v.opts...), "--port="+v.port, "--status-file="+in.statusFile, "--pid-file="+in.pidFile, "--", v.worker)
	in.p, err = proc.Start(v.bin, args...)
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
	if err := in.checkStartPath(); err != nil {
		in.stop()
		return nil, err
	}
	return in, nil
}

// checkStartPath makes sure that the column is what its name says: with
// --listen-fds the first worker has LISTEN_FDS=1 and LISTEN_PID = its own
// pid (so the exec shim ran); without, no LISTEN_* variable at all.
func (in *instance) checkStartPath() error {
	_, pid, err := in.current()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return fmt.Errorf("%s: %w", in.v.name, err)
	}
	var listen []string
	for _, kv := range strings.Split(string(data), "\x00") {
		if strings.HasPrefix(kv, "LISTEN_") {
			listen = append(listen, kv)
		}
	}
	if !slices.Contains(in.v.opts, "--listen-fds") {
		if len(listen) > 0 {
			return fmt.Errorf("%s: worker %d has %v, want no LISTEN_* variable", in.v.name, pid, listen)
		}
		return nil
	}
	if !slices.Contains(listen, "LISTEN_FDS=1") || !slices.Contains(listen, "LISTEN_PID="+strconv.Itoa(pid)) {
		return fmt.Errorf("%s: worker %d has %v, want LISTEN_FDS=1 and LISTEN_PID=%d", in.v.name, pid, listen, pid)
	}
	return nil
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
