package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
)

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
