package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"hotdeploy/internal/proc"
)

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
		for _, task := range tasks {
			tid, err := strconv.Atoi(task.Name())
			if err != nil {
				continue
			}
			// A thread whose line is gone has exited: it runs no more.
			st, err := proc.ReadTaskStat(pid, tid)
			if err == nil && st.State() != "T" && st.State() != "t" {
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
