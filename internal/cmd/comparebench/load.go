package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"hotdeploy/internal/load"
	"hotdeploy/internal/proc"
)

// loadPhase: failed requests per restart under load, for the full variants.
func loadPhase(cfg config, results map[*variant]*result) error {
	for _, v := range cfg.variants {
		if !v.full {
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

// throughputPhase measures requests per second through each full variant
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
		if !v.full {
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
