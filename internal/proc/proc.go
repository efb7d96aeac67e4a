// Package proc drives the workshop's programs as real processes: it builds a
// binary, starts it in its own process group with its output captured, waits
// for lines of that output, sends signals, and makes sure nothing it started
// outlives the caller.
//
// It is used by every stage's tests (through StartT) and by the loadtest
// command (through Start), so nothing here depends on package testing except
// the T helpers in proctest.go.
package proc

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Build compiles the main package in dir (a directory or a package path,
// resolved like "go build" does) into outDir and returns the binary's path.
// Extra arguments go to "go build" before the package (e.g. "-ldflags=...").
// It blocks until the compiler is done.
func Build(dir, outDir string, extra ...string) (string, error) {
	abs, err := filepath.Abs(dir) // "." and ".." name the binary after the directory too
	if err != nil {
		return "", fmt.Errorf("build %s: %w", dir, err)
	}
	name := filepath.Base(abs)
	bin := filepath.Join(outDir, name)
	args := append([]string{"build", "-o", bin}, extra...)
	args = append(args, dir)
	cmd := exec.Command("go", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", dir, err, out)
	}
	return bin, nil
}

// Process is a started program. Its stdout and stderr are captured together,
// line by line, and kept in memory for WaitLine and Output.
//
// The process is the leader of a new process group, so that Kill and
// Survivors also reach the children it starts (workers), even when they were
// orphaned.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been reaped
	err  error         // Wait's result; read only after done is closed

	mu      sync.Mutex
	lines   []string
	cursor  int           // WaitLine reads from here
	grow    chan struct{} // closed and replaced whenever a line is added
	partial bytes.Buffer
}

// Start starts bin with args. The caller owns the process: it must end it
// (Signal + Wait, or Kill). Start does not wait for the program to be ready;
// use WaitLine for that.
func Start(bin string, args ...string) (*Process, error) {
	return StartCmd(exec.Command(bin, args...))
}

// StartCmd is Start for a command the caller prepared (environment, extra
// files, directory). Stdout, Stderr and SysProcAttr.Setpgid are set here
// (not Setpgid with Setsid: a session leader leads its group already).
func StartCmd(cmd *exec.Cmd) (*Process, error) {
	p := &Process{cmd: cmd, done: make(chan struct{}), grow: make(chan struct{})}
	cmd.Stdout = (*lineWriter)(p)
	cmd.Stderr = (*lineWriter)(p)
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = !cmd.SysProcAttr.Setsid
	// Wait also waits until nobody writes to the output pipes any more. A
	// child the program left behind keeps them open; without a limit, Wait
	// (and so Done) would hang until that child exits, and the leak would
	// look like a hang instead of being reported by Survivors.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait() // also waits until the output pipes are drained
		p.flushPartial()
		close(p.done)
	}()
	return p, nil
}

// PID is the process ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Signal sends sig to the process (not to its group).
func (p *Process) Signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %v to pid %d: %w", sig, p.PID(), err)
	}
	return nil
}

// Done is closed once the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait blocks until the process exits or timeout passes. It returns the exit
// code (-1 if killed by a signal).
func (p *Process) Wait(timeout time.Duration) (int, error) {
	// Look first: with both cases ready, select would pick one at random, and
	// Wait(0) on a process that has exited could claim it is running.
	select {
	case <-p.done:
	default:
		select {
		case <-p.done:
		case <-time.After(timeout):
			return 0, fmt.Errorf("pid %d still running after %v", p.PID(), timeout)
		}
	}
	st := p.cmd.ProcessState
	if !st.Exited() {
		return -1, fmt.Errorf("pid %d: %v", p.PID(), st)
	}
	return st.ExitCode(), nil
}

// WaitLine blocks until a line of output matches re and returns its
// submatches (index 0 is the whole match). Lines are consumed in order: a
// second call looks only at lines after the one the first call matched.
// It fails after timeout, or when the process has exited and no further line
// can come.
func (p *Process) WaitLine(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		for p.cursor < len(p.lines) {
			line := p.lines[p.cursor]
			p.cursor++
			if m := re.FindStringSubmatch(line); m != nil {
				p.mu.Unlock()
				return m, nil
			}
		}
		grow := p.grow
		p.mu.Unlock()
		select {
		case <-grow:
		case <-p.done:
			// The process is gone, but its last lines may have arrived
			// together with the exit; look once more before giving up.
			if p.hasUnread() {
				continue
			}
			return nil, fmt.Errorf("pid %d exited (%v) before printing a line matching %q", p.PID(), p.err, re)
		case <-deadline.C:
			return nil, fmt.Errorf("pid %d printed no line matching %q within %v", p.PID(), re, timeout)
		}
	}
}

// WaitMatches blocks until at least n lines of the whole output so far
// match re, and returns their submatches. Unlike WaitLine it ignores the
// cursor and does not move it, for events whose lines may come in any order.
// It fails after timeout, or when the process has exited with fewer.
func (p *Process) WaitMatches(re *regexp.Regexp, n int, timeout time.Duration) ([][]string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		var found [][]string
		for _, line := range p.lines {
			if m := re.FindStringSubmatch(line); m != nil {
				found = append(found, m)
			}
		}
		grow := p.grow
		p.mu.Unlock()
		if len(found) >= n {
			return found, nil
		}
		select {
		case <-grow:
		case <-p.done:
			if p.hasUnread() {
				continue
			}
			return found, fmt.Errorf("pid %d exited (%v) after %d of %d lines matching %q", p.PID(), p.err, len(found), n, re)
		case <-deadline.C:
			return found, fmt.Errorf("pid %d printed %d of %d lines matching %q within %v", p.PID(), len(found), n, re, timeout)
		}
	}
}

func (p *Process) hasUnread() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cursor < len(p.lines)
}

// Lines returns a copy of every complete line printed so far.
func (p *Process) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// Output returns everything printed so far, one line per line.
func (p *Process) Output() string {
	return strings.Join(p.Lines(), "\n")
}

// Stop ends the process gracefully: SIGTERM, then SIGKILL to the whole group
// if it has not exited within grace. It blocks until the process is reaped
// and returns what Wait returned for the SIGTERM.
func (p *Process) Stop(grace time.Duration) (int, error) {
	select {
	case <-p.done:
		return p.Wait(0)
	default:
	}
	_ = p.Signal(syscall.SIGTERM)
	code, err := p.Wait(grace)
	if err != nil {
		p.Kill()
	}
	return code, err
}

// Kill sends SIGKILL to the process group and waits for the leader to be
// reaped.
func (p *Process) Kill() {
	_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
	<-p.done
}

// Survivors returns the PIDs of live (non-zombie) processes still in the
// process group. After the leader has exited it should be empty: anything
// listed is a child the program left behind.
func (p *Process) Survivors() []int { return groupMembers(p.PID()) }

// KillGroup sends SIGKILL to every process left in the group.
func (p *Process) KillGroup() { _ = syscall.Kill(-p.PID(), syscall.SIGKILL) }

// lineWriter is the Process as an io.Writer for the child's output.
type lineWriter Process

func (w *lineWriter) Write(b []byte) (int, error) {
	p := (*Process)(w)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial.Write(b)
	added := false
	for {
		data := p.partial.Bytes()
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		p.lines = append(p.lines, string(data[:i]))
		p.partial.Next(i + 1)
		added = true
	}
	if added {
		close(p.grow)
		p.grow = make(chan struct{})
	}
	return len(b), nil
}

func (p *Process) flushPartial() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.partial.Len() > 0 {
		p.lines = append(p.lines, p.partial.String())
		p.partial.Reset()
		close(p.grow)
		p.grow = make(chan struct{})
	}
}
