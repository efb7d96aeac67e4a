package starter

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// launcher starts real workers: it is osSeam.start for Run.
type launcher struct {
	command []string
	dir     string
	envDir  string
	baseEnv []string // the starter's environment, taken once at Run
	socks   []*boundSocket
	plan    fdPlan
	shim    string // the exec shim executable; used when plan.listenFDs > 0
	notify  *notifyDir
	logf    func(string, ...any)

	exitC   chan<- exitEvent
	notifyC chan<- notifyEvent
	doneC   <-chan struct{} // closed when Run returns: goroutines stop sending
}

// realProcess is a worker started with os/exec.
type realProcess struct{ cmd *exec.Cmd }

func (p realProcess) Pid() int { return p.cmd.Process.Pid }

func (p realProcess) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// start starts worker generation gen and returns at once. The worker gets:
// the environment of workerEnv (envdir re-read now), fds 0-2 of the starter
// (or a socket where "=FD" says 0-2), the sockets on their planned fds and
// nothing else (every other fd of the starter is close-on-exec), and the
// working directory --dir. With socket activation in the plan, it is started
// through the exec shim so that LISTEN_PID is its own pid.
//
// A goroutine reaps the worker (Wait) and then sends its exitEvent on exitC,
// and closes its NOTIFY_SOCKET; every started worker is reaped.
func (l *launcher) start(gen int) (process, error) {
	var overlay map[string]string
	if l.envDir != "" {
		var err error
		if overlay, err = readEnvDir(l.envDir); err != nil {
			l.logf("%v (starting worker without it)", err)
		}
	}
	notifyPath, closeNotify, err := l.notify.listen(gen, l.notifyC, l.doneC)
	if err != nil {
		return nil, err
	}
	env := workerEnv(workerEnvSpec{
		base: l.baseEnv, overlay: overlay, port: portVar(l.socks), gen: gen,
		notify: notifyPath, listenFDs: l.plan.listenFDs, fdNames: l.plan.names,
	})
	var cmd *exec.Cmd
	if l.plan.listenFDs > 0 {
		cmd = exec.Command(l.shim, l.command...)
		cmd.Args[0] = "start_server-exec-shim"
	} else {
		cmd = exec.Command(l.command[0], l.command[1:]...)
	}
	cmd.Env = env
	cmd.Dir = l.dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	for i, f := range l.plan.stdio {
		if f != nil {
			switch i {
			case 0:
				cmd.Stdin = f
			case 1:
				cmd.Stdout = f
			case 2:
				cmd.Stderr = f
			}
		}
	}
	cmd.ExtraFiles = l.plan.extra
	if err := cmd.Start(); err != nil {
		closeNotify()
		return nil, fmt.Errorf("start %s: %w", l.command[0], err)
	}
	go func() {
		err := cmd.Wait()
		closeNotify()
		ev := exitEvent{pid: cmd.Process.Pid}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
			ev.status = waitStatusToExit(ws)
		} else {
			ev.status = exitStatus{raw: -1, text: fmt.Sprint(err)}
		}
		select {
		case l.exitC <- ev:
		case <-l.doneC:
		}
	}()
	return realProcess{cmd}, nil
}
