package main

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// fdPhase counts the fds of ours with the READY=1 worker (the full
// variants) before and after cfg.fdRestarts restarts. The variants run side
// by side: a count does not depend on timing, and each takes cfg.fdRestarts
// probations (1 s each).
func fdPhase(cfg config, results map[*variant]*result) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, v := range cfg.variants {
		if !v.full || v.silent {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := countFDs(cfg, v, results[v]); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func countFDs(cfg config, v *variant, r *result) error {
	progress("%s: fds over %d restarts", v.name, cfg.fdRestarts)
	in, err := start(cfg, v)
	if err != nil {
		return err
	}
	defer in.stop()
	// Counted after a quiet second, so that what a restart closes
	// asynchronously (the old worker's NOTIFY_SOCKET once it is reaped) is
	// closed.
	count := func() int {
		time.Sleep(time.Second)
		e, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", in.p.PID()))
		return len(e)
	}
	r.fdsBefore = count()
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
	r.fdsAfter = count()
	return nil
}
