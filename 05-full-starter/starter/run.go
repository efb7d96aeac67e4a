package starter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// Defaults of the Config fields whose zero value means "the default".
const (
	DefaultInterval            = time.Second
	DefaultKillTimeout         = 30 * time.Second
	DefaultProbation           = time.Second
	DefaultAutoRestartInterval = 360 * time.Second
	backoffMin                 = time.Second
	backoffMax                 = 30 * time.Second
)

// Run is start_server: it validates cfg, takes the pid file, binds the
// sockets, starts the first worker and supervises workers until the starter
// gets SIGTERM or SIGINT, or ctx is cancelled (which counts as SIGTERM). Then
// it forwards the stop signal to every worker, waits for all of them (with
// KillTimeout), closes the sockets, removes the --path sockets, the status
// file and the pid file, logs "exiting" and returns nil.
//
// It blocks until then. Errors are returned only for setup problems, before
// any worker was started, each naming what is wrong (an invalid --port, a
// port in use, a locked pid file, a regular file at a --path, ...); nothing
// the starter did not create is deleted on those paths.
//
// When the starter itself has NOTIFY_SOCKET (systemd Type=notify), it sends
// READY=1 there once a worker runs and STOPPING=1 at shutdown; the workers
// get their own NOTIFY_SOCKET from the starter, never that one.
//
// Run handles SIGHUP, SIGTERM and SIGINT itself (os/signal) from its first
// step on, before it takes the pid file. A signal that arrives during the
// setup is handled once the setup is done: a TERM or INT then shuts down
// cleanly (without starting a worker if it was there before the first
// start), a HUP from before the first start is coalesced with it (the first
// worker already runs the current code), and a HUP after the first start is
// a restart that follows as soon as the first worker runs. A setup error
// still returns that error.
// The program's main must call RunShimIfRequested before anything else; Run
// refuses to run in a process that is the exec shim.
func Run(ctx context.Context, cfg Config) (err error) {
	if os.Getenv(shimEnv) != "" {
		return errors.New("start_server: running as the exec shim: main must call starter.RunShimIfRequested first")
	}
	// The handler comes first, before the pid file exists: whoever sees
	// the pid file (--restart, --stop, systemd's ExecReload, a script) may
	// signal at once, and the default action would kill the starter in the
	// middle of its setup and leave its files behind. Signals that arrive
	// during the setup wait in sigC for the loop (see supervisor.run).
	sigC := make(chan os.Signal, 16)
	signal.Notify(sigC, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigC)

	// A log reader that exits (--log-file="|cmd", or start_server's
	// output piped into one) must not kill the starter with SIGPIPE at its
	// next log line, leaving its workers orphaned: ignored, a write fails
	// with EPIPE instead (logWriter says so once). Ignored, not caught:
	// workers inherit SIGPIPE ignored, as under Perl's start_server (Go
	// workers behave the same either way).
	signal.Ignore(syscall.SIGPIPE)
	up := newUpstream(os.Getenv(envNotifySocket))
	var out io.Writer = os.Stderr
	if cfg.Log != nil {
		out = cfg.Log
	}
	// logWriter serializes the lines: the launcher logs from its
	// goroutines too.
	log := &logWriter{w: out, lost: func(err error) {
		line := fmt.Sprintf("start_server (pid:%d): log output lost (%v); still supervising", os.Getpid(), err)
		if cfg.LogLost != nil {
			fmt.Fprintln(cfg.LogLost, line)
		}
		up.send("STATUS=" + line)
	}}
	logf := func(format string, args ...any) { fmt.Fprintf(log, format+"\n", args...) }

	set, specs, err := validate(cfg)
	if err != nil {
		return err
	}

	// Fail on a running instance before touching any socket path.
	var pf *pidFile
	if cfg.PIDFile != "" {
		if pf, err = acquirePIDFile(cfg.PIDFile); err != nil {
			return &FieldError{Field: "PIDFile", Value: cfg.PIDFile, Err: err}
		}
	}
	var socks []*boundSocket
	var notify *notifyDir
	// The status file and its failure marker are this process's only once
	// its supervisor writes them; a setup that fails before must not
	// remove those of a server already running with the same paths.
	ownStatus := false
	defer func() {
		for _, s := range socks {
			s.file.Close()
			removeUnixSocket(s)
		}
		if notify != nil {
			notify.Close()
		}
		if cfg.StatusFile != "" && ownStatus {
			os.Remove(cfg.StatusFile)
			os.Remove(failedFile(cfg.StatusFile))
		}
		pf.release()
		if err == nil {
			logf("exiting")
		}
	}()

	closeStrayFDsOnExec()
	activated, err := adoptActivated(os.Getenv, os.Getpid())
	if err != nil {
		return err
	}

	logf("start_server (pid:%d) starting now...", os.Getpid())
	backlog := cfg.Backlog
	if backlog <= 0 {
		backlog = defaultBacklog()
	}
	for _, spec := range specs {
		var s *boundSocket
		if spec.network == "unix" {
			if s, err = bindUnix(spec, backlog, cfg.PathMode, logf); err != nil {
				return &FieldError{Field: "Paths", Value: spec.given, Err: err}
			}
		} else if s, err = bindInet(spec, backlog); err != nil {
			return &FieldError{Field: "Ports", Value: spec.given, Err: err}
		}
		socks = append(socks, s)
	}
	socks = append(socks, activated...)
	plan := planFDs(socks)
	for _, s := range socks {
		if s.spec.fd >= 0 {
			logf("socket is duplicated to file descriptor %d", s.spec.fd)
		}
		logf("listening on %s %s (SERVER_STARTER_PORT key %q, fd %d)", s.spec.network, s.addr, s.spec.key, s.workerFD)
	}
	if len(socks) > 0 && plan.listenFDs == 0 {
		logf("LISTEN_FDS not set for workers: the sockets are not on fds 3..%d (=FD)", 2+len(socks))
	}
	l := &launcher{
		command: cfg.Command, dir: cfg.Dir, envDir: cfg.EnvDir,
		baseEnv: os.Environ(), socks: socks, plan: plan, logf: logf,
	}
	if plan.listenFDs > 0 {
		if l.shim, err = shimPath(); err != nil {
			return err
		}
		l.ownPID, l.width = canStartWithOwnPID && os.Getenv(forceShimEnv) == "", pidWidth()
	}
	defer l.close() // before the sockets are closed and "exiting"
	if notify, err = newNotifyDir(logf); err != nil {
		return err
	}
	l.notify = notify

	exitC := make(chan exitEvent, 16)
	notifyC := make(chan notifyEvent, 16)
	doneC := make(chan struct{})
	defer close(doneC)
	l.exitC, l.notifyC, l.doneC = exitC, notifyC, doneC

	s := &supervisor{set: set, logf: logf, os: osSeam{start: l.start, now: time.Now, notifyUp: up.send, prepare: l.prepare, stopping: l.close}}
	ownStatus = true
	s.run(ctx, sigC, exitC, notifyC)
	return nil
}

// logWriter is the starter's log. The first write that fails (the reader
// of a pipe has exited: EPIPE) is reported once through lost; the starter
// goes on supervising, and later lines are written again (and fail again,
// silently, if the output stays gone). It is safe for concurrent use.
type logWriter struct {
	w    io.Writer
	lost func(error)

	mu     sync.Mutex
	failed bool
}

func (l *logWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.w.Write(b)
	if err != nil && !l.failed {
		l.failed = true
		l.lost(err)
	}
	return n, err
}
