package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

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
