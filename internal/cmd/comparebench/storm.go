package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"hotdeploy/internal/load"
	"hotdeploy/internal/proc"
)

// stormPhase sends HUPs 2 ms apart to a starter of every full variant,
// under load, and waits until one worker is left and stays alone for 1.5 s
// (longer than --interval).
func stormPhase(cfg config, results map[*variant]*result) error {
	for _, v := range cfg.variants {
		if !v.full {
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

// workers lists the live children of pid. A child that is still an exec
// shim (--listen-fds) counts: it is the worker it is about to execute.
func workers(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := proc.ReadStat(child)
		if err == nil && !st.Gone() && st.PPID() == pid {
			out = append(out, child)
		}
	}
	return out
}
