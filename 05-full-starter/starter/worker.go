package starter

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// launcher starts real workers: it is osSeam.start for Run.
//
// With socket activation in the fd plan, a worker's LISTEN_PID must be its
// own pid, known only after fork. On Linux the launcher starts the worker
// like any other and writes its pid into its environment while the kernel
// holds it stopped right after the exec (startWithOwnPID): no extra process.
// Where that cannot work (not Linux, a set-user-ID worker, or this process
// may not trace its children, or START_SERVER_EXEC_SHIM=1), the worker is
// started through an exec shim (see RunShimIfRequested), and the launcher
// keeps one shim parked for the next start, so that a restart does not wait
// for a Go runtime to start: it hands the parked shim the worker's argv and
// environment, and the shim execs at once. The next one is started when the
// supervisor calls prepare (a new worker was judged running), so that its
// start never takes CPU from a worker that is starting; one that dies while
// parked is reaped and replaced (at most one replacement a second). close
// ends the parked one.
type launcher struct {
	command []string
	dir     string
	envDir  string
	baseEnv []string // the starter's environment, taken once at Run
	socks   []*boundSocket
	plan    fdPlan
	shim    string // the exec shim executable; used when plan.listenFDs > 0
	width   int    // digits of the LISTEN_PID slot (pidWidth)
	notify  *notifyDir
	logf    func(string, ...any) // safe for concurrent use

	exitC   chan<- exitEvent
	notifyC chan<- notifyEvent
	doneC   <-chan struct{} // closed when Run returns: goroutines stop sending

	mu         sync.Mutex
	ownPID     bool           // workers with LISTEN_FDS start with startWithOwnPID, not through a shim
	spare      *shimProc      // the parked shim, if any
	spareTimer *time.Timer    // a spare is due to be started
	refills    sync.WaitGroup // scheduled and running refills
	lastSpawn  time.Time
	closed     bool // no more shims: Run is stopping
}

// respawnEvery bounds how often a parked shim that died is replaced.
const respawnEvery = time.Second

// shimState is where an exec shim is in its life.
type shimState int

const (
	shParked    shimState = iota // waiting on its pipe; its exit is logged and it is replaced
	shTaken                      // being handed a worker (handOver runs)
	shHanded                     // it is a worker: its exit is the worker's
	shAbandoned                  // not needed or the hand-over failed: reaped quietly
)

// shimProc is an exec shim the launcher started: parked until handed a
// worker, then that worker.
type shimProc struct {
	cmd     *exec.Cmd
	ctl     *os.File      // write end of the hand-over pipe; whoever took the shim owns it
	done    chan struct{} // closed once reaped
	settled chan struct{} // closed when handOver has decided: shHanded or shAbandoned

	// Guarded by launcher.mu.
	state       shimState
	closeNotify func() // shHanded: the worker's NOTIFY_SOCKET, closed when it is reaped
}

// realProcess is a worker started with os/exec.
type realProcess struct{ cmd *exec.Cmd }

func (p realProcess) Pid() int { return p.cmd.Process.Pid }

func (p realProcess) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// start starts worker generation gen and returns once the worker's process
// exists (a parked shim handed its command counts). The worker gets: the
// environment of workerEnv (envdir re-read now), fds 0-2 of the starter (or
// a socket where "=FD" says 0-2), the sockets on their planned fds and
// nothing else (every other fd of the starter is close-on-exec), and the
// working directory --dir. With socket activation in the plan, LISTEN_PID
// is its own pid (see launcher).
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
	cmd := exec.Command(l.command[0], l.command[1:]...)
	cmd.Env = env
	l.setFiles(cmd)
	if l.plan.listenFDs == 0 {
		if err := cmd.Start(); err != nil {
			closeNotify()
			return nil, fmt.Errorf("start %s: %w", l.command[0], err)
		}
		return l.reap(cmd, closeNotify), nil
	}
	if l.useOwnPID(cmd.Path) {
		cmd.Env = append(env, pidSlot(l.width))
		err := startWithOwnPID(cmd, l.width)
		if err == nil {
			return l.reap(cmd, closeNotify), nil
		}
		if !errors.Is(err, syscall.EPERM) {
			closeNotify()
			return nil, fmt.Errorf("start %s: %w", l.command[0], err)
		}
		l.mu.Lock()
		l.ownPID = false
		l.mu.Unlock()
		l.logf("cannot trace worker %s to set its LISTEN_PID (%v): starting workers through the exec shim from now on", l.command[0], err)
	}
	return l.startViaShim(env, closeNotify)
}

// useOwnPID says whether the worker at path is started with
// startWithOwnPID. A set-user-ID or set-group-ID worker is not: the kernel
// would not raise the privileges of a traced exec.
func (l *launcher) useOwnPID(path string) bool {
	l.mu.Lock()
	own := l.ownPID
	l.mu.Unlock()
	if !own {
		return false
	}
	fi, err := os.Stat(path)
	return err != nil || fi.Mode()&(os.ModeSetuid|os.ModeSetgid) == 0
}

// reap starts a goroutine that reaps the started cmd, closes its
// NOTIFY_SOCKET (closeNotify) and reports its exit on exitC.
func (l *launcher) reap(cmd *exec.Cmd, closeNotify func()) process {
	go func() {
		err := cmd.Wait()
		closeNotify()
		l.sendExit(cmd, err)
	}()
	return realProcess{cmd}
}

// pidSlot is the LISTEN_PID variable startWithOwnPID fills in: width
// placeholder digits, replaced by the pid and NULs (so that
// /proc/PID/environ of such a worker ends with a few empty strings).
func pidSlot(width int) string { return envListenPID + "=" + strings.Repeat("0", width) }

// setFiles gives cmd the worker's working directory, stdio and sockets.
func (l *launcher) setFiles(cmd *exec.Cmd) {
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
}

// sendExit reports the reaped worker cmd on exitC (Wait returned err).
func (l *launcher) sendExit(cmd *exec.Cmd, err error) {
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
}

// startViaShim hands env and the command to the parked shim, or to a shim
// started now if none is parked (the first worker, a restart before the
// previous worker ran) or the parked one turns out to be dead. It blocks while it
// writes the hand-over (at most a pipe buffer's worth, which the shim reads
// at once) and, without a parked shim, while a new one is forked.
func (l *launcher) startViaShim(env []string, closeNotify func()) (process, error) {
	msg := encodeHandOver(l.command, env)
	for {
		sh := l.takeSpare()
		cold := sh == nil
		if cold {
			var err error
			if sh, err = l.spawnShim(shTaken); err != nil {
				closeNotify()
				return nil, err
			}
		}
		err := l.handOver(sh, msg, closeNotify)
		if err == nil {
			return realProcess{sh.cmd}, nil
		}
		if cold {
			closeNotify()
			return nil, err
		}
		l.logf("%v; starting the worker through a new one", err)
	}
}

// takeSpare takes the parked shim out of the launcher (state shTaken) and
// returns it, or nil if there is none.
func (l *launcher) takeSpare() *shimProc {
	l.mu.Lock()
	defer l.mu.Unlock()
	sh := l.spare
	l.spare = nil
	if sh != nil {
		sh.state = shTaken
	}
	return sh
}

// handOver writes msg to the pipe of sh (taken) and closes it; from then on
// sh is the worker. If the write fails (the shim died meanwhile), sh is
// abandoned: killed if it still runs, and reaped without a report.
func (l *launcher) handOver(sh *shimProc, msg []byte, closeNotify func()) error {
	_, err := sh.ctl.Write(msg)
	if cerr := sh.ctl.Close(); err == nil {
		err = cerr
	}
	l.mu.Lock()
	if err == nil {
		sh.state, sh.closeNotify = shHanded, closeNotify
	} else {
		sh.state = shAbandoned
	}
	l.mu.Unlock()
	close(sh.settled)
	if err != nil {
		sh.cmd.Process.Kill()
		return fmt.Errorf("exec shim %d: hand over the worker: %w", sh.cmd.Process.Pid, err)
	}
	return nil
}

// spawnShim starts an exec shim in state st that waits on its hand-over
// pipe, and a goroutine that reaps it. It blocks for the fork and exec of
// the shim only.
func (l *launcher) spawnShim(st shimState) (*shimProc, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("exec shim: %w", err)
	}
	defer r.Close() // the shim has its own copy once started
	cmd := exec.Command(l.shim)
	cmd.Args = []string{shimArg0}
	l.setFiles(cmd)
	// The pipe goes right after the sockets; the shim closes it before exec.
	cmd.ExtraFiles = append(append([]*os.File(nil), l.plan.extra...), r)
	pipeFD := 3 + len(l.plan.extra)
	// The shim's own environment; the worker's comes with the hand-over.
	// One P: fewer runtime threads to start, and for exec to end.
	cmd.Env = make([]string, 0, len(l.baseEnv)+2)
	for _, kv := range l.baseEnv {
		if k, _, _ := strings.Cut(kv, "="); !isOwnVar(k) && k != "GOMAXPROCS" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GOMAXPROCS=1", fmt.Sprintf("%s=%d", shimEnv, pipeFD))
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("start the exec shim %s: %w", l.shim, err)
	}
	sh := &shimProc{cmd: cmd, ctl: w, done: make(chan struct{}), settled: make(chan struct{}), state: st}
	l.mu.Lock()
	l.lastSpawn = time.Now()
	l.mu.Unlock()
	go l.reapShim(sh)
	return sh, nil
}

// reapShim waits for sh to exit. A worker's exit is reported like any
// worker's; a parked shim that died is logged and replaced.
func (l *launcher) reapShim(sh *shimProc) {
	err := sh.cmd.Wait()
	l.mu.Lock()
	if l.spare == sh {
		l.spare = nil
	}
	st := sh.state
	l.mu.Unlock()
	if st == shTaken {
		<-sh.settled // handOver is writing to it: wait for the verdict
	}
	l.mu.Lock()
	st, closeNotify, closed := sh.state, sh.closeNotify, l.closed
	delay := max(0, time.Until(l.lastSpawn.Add(respawnEvery)))
	l.mu.Unlock()
	close(sh.done)
	switch {
	case st == shHanded:
		closeNotify()
		l.sendExit(sh.cmd, err)
	case st == shAbandoned || closed:
	default:
		sh.ctl.Close()
		status := exitStatus{raw: -1, text: fmt.Sprint(err)}
		if ws, ok := sh.cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
			status = waitStatusToExit(ws)
		}
		l.logf("exec shim %d (parked for the next worker) died, status:%s; starting another", sh.cmd.Process.Pid, status.detail())
		l.scheduleSpare(delay)
	}
}

// prepare parks an exec shim for the next start, if workers start through
// one and none is parked yet: it is osSeam.prepare, called once a new
// worker runs. It does not block (the shim starts in a goroutine).
func (l *launcher) prepare() {
	l.mu.Lock()
	own := l.ownPID
	l.mu.Unlock()
	if l.plan.listenFDs > 0 && !own {
		l.scheduleSpare(0)
	}
}

// scheduleSpare has a shim started and parked after delay, unless one is
// parked or due already, or the launcher is closed. It does not block.
func (l *launcher) scheduleSpare(delay time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.spare != nil || l.spareTimer != nil {
		return
	}
	l.refills.Add(1)
	l.spareTimer = time.AfterFunc(delay, l.refill)
}

// refill starts the spare shim scheduleSpare asked for.
func (l *launcher) refill() {
	defer l.refills.Done()
	l.mu.Lock()
	l.spareTimer = nil
	busy := l.closed || l.spare != nil
	l.mu.Unlock()
	if busy {
		return
	}
	sh, err := l.spawnShim(shParked)
	if err != nil {
		l.logf("%v (the next worker starts through a new one)", err)
		return
	}
	l.mu.Lock()
	keep := !l.closed && l.spare == nil
	if keep {
		l.spare = sh
	} else {
		sh.state = shAbandoned
	}
	l.mu.Unlock()
	if !keep {
		sh.ctl.Close() // end of file: it exits
		<-sh.done
	}
}

// close ends the parked shim, if any, and stops parking new ones: the
// shim's pipe is closed, so it exits at once. It blocks until every shim
// that was not handed a worker has been reaped (SIGKILL after 5 s, in case
// one was stopped).
func (l *launcher) close() {
	l.mu.Lock()
	l.closed = true
	if l.spareTimer != nil && l.spareTimer.Stop() {
		l.refills.Done()
	}
	l.spareTimer = nil
	sh := l.spare
	l.spare = nil
	l.mu.Unlock()
	l.refills.Wait()
	if sh == nil {
		return
	}
	sh.ctl.Close()
	select {
	case <-sh.done:
	case <-time.After(5 * time.Second):
		sh.cmd.Process.Kill()
		<-sh.done
	}
}
