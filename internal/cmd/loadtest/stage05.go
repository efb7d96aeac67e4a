package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"syscall"

	"hotdeploy/internal/proc"
)

// stage05 runs our start_server with the example worker, and makes every
// restart a deploy: it builds the example again as the next version (v2,
// v3, ...) next to the running binary, renames it over the old one (rename
// is atomic: a worker starting at that moment gets one whole binary or the
// other) and sends SIGHUP to the starter.
func stage05() *stage {
	st := &stage{dir: "05-full-starter"}
	var worker string // the path the starter runs
	buildWorker := func(tmp string, version int) error {
		out := filepath.Join(tmp, "example-build")
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		bin, err := proc.Build("./05-full-starter/example", out, fmt.Sprintf("-ldflags=-X main.version=v%d", version))
		if err != nil {
			return err
		}
		worker = filepath.Join(tmp, "example")
		return os.Rename(bin, worker)
	}
	st.build = func(tmp string) error {
		var err error
		st.bin, err = proc.Build("./05-full-starter", tmp)
		return err
	}
	st.start = func(tmp string) (*server, error) {
		if err := buildWorker(tmp, 1); err != nil {
			return nil, err
		}
		p, err := proc.Start(st.bin, "--port", "127.0.0.1:0", "--", worker)
		if err != nil {
			return nil, err
		}
		m, err := p.WaitLine(listeningRE, *timeout) // the worker's line
		if err != nil {
			p.Kill()
			return nil, fmt.Errorf("%w\n%s", err, p.Output())
		}
		fmt.Printf("start_server pid %d on %s, worker version v1\n", p.PID(), m[1])
		return &server{p: p, addr: m[1], gen: 1, tmp: tmp}, nil
	}
	st.restart = func(s *server) error {
		if err := buildWorker(s.tmp, s.gen+1); err != nil {
			return err
		}
		if err := s.p.Signal(syscall.SIGHUP); err != nil {
			return err
		}
		s.gen++
		// Perl's sentence, logged once the new worker is ready and the old
		// ones are about to be signalled.
		_, err := s.p.WaitLine(regexp.MustCompile(`new worker is now running, sending`), *timeout)
		return err
	}
	return st
}
