package starter

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"hotdeploy/05-full-starter/starter/systemd"
)

// launcher starts real workers: its start is osSeam.start for Run.
type launcher struct {
	command []string
	dir     string
	envDir  string
	baseEnv []string // the starter's environment, taken once at Run
	socks   []*boundSocket
	plan    fdPlan
	shim    string // --listen-fds: the exec shim executable, else ""
	ready   *readiness
	logf    func(string, ...any) // safe for concurrent use
	exitC   chan<- exitEvent
	doneC   <-chan struct{} // closed when Run returns: goroutines stop sending
}

// realProcess is a worker started with os/exec.
type realProcess struct{ cmd *exec.Cmd }

func (p realProcess) Pid() int { return p.cmd.Process.Pid }

func (p realProcess) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// start starts worker generation gen with one fork+exec and returns once
// the worker's process exists; it blocks for that fork and exec only. The
// worker gets the environment of workerEnv (envdir re-read now), fds 0-2 of
// the starter (or a socket where "=FD" says 0-2), the sockets on their
// planned fds and nothing else (every other fd of the starter is
// close-on-exec), and the working directory --dir. With --listen-fds it is
// started through the exec shim (package systemd), which adds LISTEN_PID.
//
// A goroutine reaps the worker (Wait), closes its NOTIFY_SOCKET and then
// sends its exitEvent on exitC: every started worker is reaped.
//
// An error wrapping errStartPath means the exec shim itself could not be
// started: retrying would not help, so the supervisor does not.
func (l *launcher) start(gen int) (process, error) {
	var overlay map[string]string
	if l.envDir != "" {
		var err error
		if overlay, err = ReadEnvDir(l.envDir); err != nil {
			l.logf("%v (starting worker without it)", err)
		}
	}
	notifyPath, closeNotify, err := l.ready.listen(gen)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(l.command[0], l.command[1:]...)
	cmd.Env = workerEnv(workerEnvSpec{
		base: l.baseEnv, overlay: overlay, port: portVar(l.socks), gen: gen,
		notify: notifyPath, listenFDs: l.plan.listenFDs, fdNames: l.plan.names,
	})
	l.setFiles(cmd)
	if l.shim != "" && cmd.Err == nil {
		cmd.Path, cmd.Args = l.shim, systemd.ShimArgs(cmd.Path, cmd.Args)
	}
	if err := cmd.Start(); err != nil {
		closeNotify()
		if l.shim != "" && cmd.Path == l.shim {
			return nil, fmt.Errorf("start the exec shim %s: %w: %w", l.shim, errStartPath, err)
		}
		return nil, fmt.Errorf("start %s: %w", l.command[0], err)
	}
	go func() {
		err := cmd.Wait()
		closeNotify()
		ev := exitEvent{pid: cmd.Process.Pid, status: exitStatus{raw: -1, text: fmt.Sprint(err)}}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
			ev.status = waitStatusToExit(ws)
		}
		select {
		case l.exitC <- ev:
		case <-l.doneC:
		}
	}()
	return realProcess{cmd}, nil
}

// setFiles gives cmd the worker's working directory, stdio and sockets.
func (l *launcher) setFiles(cmd *exec.Cmd) {
	stdio := []*os.File{os.Stdin, os.Stdout, os.Stderr}
	for i, f := range l.plan.stdio {
		if f != nil { // a socket asked for fd 0, 1 or 2 ("=FD")
			stdio[i] = f
		}
	}
	cmd.Dir = l.dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio[0], stdio[1], stdio[2]
	cmd.ExtraFiles = l.plan.extra
}
