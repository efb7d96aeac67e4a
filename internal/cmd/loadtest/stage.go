package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"hotdeploy/internal/proc"
)

// How a stage restarts, and so how the meter tells generations apart and
// sees the old one go.
type kind int

const (
	stopStart kind = iota // 01: stop the process, start a new one; generation = process
	reExec                // 02: SIGHUP re-executes in place; generation = process image
	master                // 03, 04: SIGHUP to the master; X-Generation; the master logs each worker's exit
	starter               // 05: build the next version, SIGHUP to start_server; X-Generation; it logs each old worker's death
)

var (
	stageDirs = map[string]string{
		"01": "01-signals", "02": "02-fd-inheritance", "03": "03-fork-exec",
		"04": "04-graceful-shutdown", "05": "05-full-starter",
	}
	stageKinds  = map[string]kind{"01": stopStart, "02": reExec, "03": master, "04": master, "05": starter}
	tableStages = []string{"01", "02", "03", "04", "05"}

	listeningRE = regexp.MustCompile(`listening on (\S+) pid=(\d+)`)
)

// A stage is one of the workshop's programs, from the repository or from
// another directory (-dir).
type stage struct {
	name  string   // 01 ... 05
	src   string   // the directory it is built from, as shown
	kind  kind     //
	bin   string   // the built program (05: start_server)
	extra []string // extra arguments for the program (tests: a shorter drain)
	// workerArgs are arguments for 05's example worker (-spread).
	workerArgs []string
}

func newStage(name, dir string) *stage {
	st := &stage{name: name, src: stageDirs[name], kind: stageKinds[name]}
	if dir != "" {
		st.src = dir
	}
	return st
}

// build builds the stage into tmp (05: start_server; its example worker is
// built at start and at every restart).
func (st *stage) build(tmp string) error {
	var err error
	st.bin, err = buildDir(st.src, filepath.Join(tmp, "stage-"+st.name))
	return err
}

// buildDir builds the main package in dir into out. A directory inside a
// Go module (the repository, or a copy of it) is built there, with that
// module; a directory outside any module (a copy of one stage's directory)
// is built as a list of its .go files from the repository, so that a stage
// copied with `cp -r` builds as it is.
func buildDir(dir, out string, extra ...string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	args := append([]string{"build", "-o", out}, extra...)
	cmd := exec.Command("go")
	if inModule(abs) {
		cmd.Dir = abs
		args = append(args, ".")
	} else {
		files, err := filepath.Glob(filepath.Join(abs, "*.go"))
		if err != nil {
			return "", err
		}
		var srcs []string
		for _, f := range files {
			if !strings.HasSuffix(f, "_test.go") {
				srcs = append(srcs, f)
			}
		}
		if len(srcs) == 0 {
			return "", fmt.Errorf("build %s: no .go files there", dir)
		}
		args = append(args, srcs...)
	}
	cmd.Args = append(cmd.Args, args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", dir, err, b)
	}
	return out, nil
}

// inModule reports whether dir or one of its parents has a go.mod.
func inModule(dir string) bool {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return false
		}
		dir = parent
	}
}

// A server is a running stage: the process we started (the program, or the
// master or starter) and its address.
type server struct {
	p       *proc.Process
	addr    string
	gen     int    // the newest generation asked for
	tmp     string // where the binaries are
	worker  string // 05: the path start_server runs
	verbose bool
}

func (s *server) stop() {
	if s.p == nil {
		return
	}
	if _, err := s.p.Stop(30 * time.Second); err != nil {
		fmt.Fprintf(os.Stderr, "stop: %v\n", err)
	}
	if left := s.p.Survivors(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "processes left behind, killing: %v\n", left)
		s.p.KillGroup()
	}
	if s.verbose {
		fmt.Fprintln(os.Stderr, s.p.Output())
	}
}

// start starts the stage on a free port of 127.0.0.1 and waits until it
// serves.
func (st *stage) start(tmp string, timeout time.Duration, m *meter) (*server, error) {
	if st.kind != starter {
		return startOn(st.bin, "127.0.0.1:0", timeout, st.extra...)
	}
	s := &server{tmp: tmp, gen: 1}
	if err := st.buildWorker(s, 1, nil); err != nil {
		return nil, err
	}
	args := append(append([]string{"--port", "127.0.0.1:0"}, st.extra...), "--", s.worker)
	p, err := proc.Start(st.bin, append(args, st.workerArgs...)...)
	if err != nil {
		return nil, err
	}
	mm, err := p.WaitLine(listeningRE, timeout) // the worker's line
	if err != nil {
		p.Kill()
		return nil, fmt.Errorf("%w\n%s", err, p.Output())
	}
	s.p, s.addr = p, mm[1]
	fmt.Fprintf(m.out, "start_server pid %d on %s, worker version v1\n", p.PID(), s.addr)
	return s, nil
}

// buildWorker builds 05's example worker as version vN next to the running
// binary and renames it over the path start_server runs (rename is atomic:
// a worker starting at that moment gets one whole binary or the other).
func (st *stage) buildWorker(s *server, version int, m *meter) error {
	out := filepath.Join(s.tmp, "example-build")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	bin, err := buildDir(filepath.Join(st.src, "example"), filepath.Join(out, "example"), fmt.Sprintf("-ldflags=-X main.version=v%d", version))
	if err != nil {
		return err
	}
	s.worker = filepath.Join(s.tmp, "example")
	if err := os.Rename(bin, s.worker); err != nil {
		return err
	}
	if m != nil {
		m.event(evBuild, 0, "build v%d done", version)
	}
	return nil
}

// startOn starts bin -addr addr and waits for its "listening on" line.
func startOn(bin, addr string, timeout time.Duration, extra ...string) (*server, error) {
	p, err := proc.Start(bin, append([]string{"-addr", addr}, extra...)...)
	if err != nil {
		return nil, err
	}
	m, err := p.WaitLine(listeningRE, timeout)
	if err != nil {
		p.Kill()
		return nil, fmt.Errorf("%w\n%s", err, p.Output())
	}
	return &server{p: p, addr: m[1], gen: 1}, nil
}

// restart asks the running stage for its next generation, the stage's way.
// It returns once asked; the meter waits for the result.
func (st *stage) restart(s *server, timeout time.Duration, m *meter) error {
	s.gen++
	switch st.kind {
	case stopStart:
		pid := s.p.PID()
		m.event(evSignal, 0, "SIGTERM → pid %d (stop, then start a new process)", pid)
		code, err := s.p.Stop(timeout)
		if err != nil {
			return err
		}
		m.exited(pid, fmt.Sprintf("exit status %d", code))
		next, err := startOn(st.bin, s.addr, timeout, st.extra...)
		if err != nil {
			return err
		}
		s.p = next.p
		m.event(evStart, 0, "pid %d started on %s", s.p.PID(), s.addr)
		return nil
	case starter:
		if err := st.buildWorker(s, s.gen, m); err != nil {
			return err
		}
	}
	m.event(evSignal, 0, "SIGHUP → pid %d", s.p.PID())
	return s.p.Signal(syscall.SIGHUP)
}

// Lines of the stages' logs that the meter turns into events.
var (
	workerExitedRE = regexp.MustCompile(`worker pid=(\d+) generation=(\d+) exited: (.*)$`) // 03, 04
	oldWorkerRE    = regexp.MustCompile(`old worker (\d+) died, status:(.*)$`)             // 05
	newWorkerRE    = regexp.MustCompile(`started worker pid=(\d+) generation=(\d+)`)       // 03, 04
	newWorker05RE  = regexp.MustCompile(`starting new worker (\d+)`)                       // 05
)

// statusText makes start_server's "0 (exit code 0)" read "exit code 0",
// and a bare "0" read "status 0".
func statusText(s string) string {
	if i := strings.Index(s, " ("); i > 0 && strings.HasSuffix(s, ")") {
		return s[i+2 : len(s)-1]
	}
	return "status " + s
}

// watchLines turns the log lines of p into meter events until stop is
// closed: worker exits (03-05), new workers, and new images (02).
func watchLines(p *proc.Process, k kind, m *meter, stop <-chan struct{}) {
	seen, started := 0, 0
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		lines := p.Lines()
		for _, l := range lines[seen:] {
			switch k {
			case reExec:
				// The first line is the image measure counted at start.
				if mm := listeningRE.FindStringSubmatch(l); mm != nil {
					if started++; started > 1 {
						n := m.newImage()
						m.event(evExit, 0, "pid %s: exec'd its new image (generation %d); the old image is gone", mm[2], n)
					}
				}
			case master:
				if mm := workerExitedRE.FindStringSubmatch(l); mm != nil {
					m.exited(atoi(mm[1]), mm[3])
				} else if mm := newWorkerRE.FindStringSubmatch(l); mm != nil && mm[2] != "1" {
					m.event(evStart, 0, "pid %s started (generation %s)", mm[1], mm[2])
				}
			case starter:
				if mm := oldWorkerRE.FindStringSubmatch(l); mm != nil {
					m.exited(atoi(mm[1]), statusText(mm[2]))
				} else if mm := newWorker05RE.FindStringSubmatch(l); mm != nil {
					if started++; started > 1 {
						m.event(evStart, 0, "pid %s started", mm[1])
					}
				}
			}
		}
		seen = len(lines)
		select {
		case <-stop:
			return
		case <-p.Done():
			// Read what came with the exit once more, then stop.
			if seen == len(p.Lines()) {
				return
			}
		case <-tick.C:
		}
	}
}
