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

	"hotdeploy/05-full-starter/starter/systemd"
)

// The delays between failed starts: the first, doubling up to the last
// (see supervisor.backoff).
const (
	backoffMin = time.Second
	backoffMax = 30 * time.Second
)

// Run is start_server: it binds the sockets, runs cfg.Command with them
// inherited, and replaces that worker with a new one on every SIGHUP, until
// SIGTERM, SIGINT or the end of ctx (which counts as SIGTERM).
//
// It goes the way Perl's start_server() does: validate cfg, take the pid
// file, bind the sockets, run the supervisor loop until a shutdown has
// reaped every worker, then close the sockets, remove the files it made and
// log "exiting". It blocks until then.
//
// Run returns nil after a shutdown, and an error only when the setup fails,
// before any worker was started; nothing the starter did not create is
// deleted then. Signals are caught from the first step on; those that
// arrive during the setup are handled once it is done (see
// supervisor.handleEarlySignals).
func Run(ctx context.Context, cfg Config) error {
	// Before the pid file exists: whoever sees it may signal at once.
	sigC := make(chan os.Signal, 16)
	signal.Notify(sigC, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigC)
	// A log reader that exits must not kill the starter with SIGPIPE at
	// its next line: ignored, a write fails with EPIPE instead, and the
	// workers inherit it ignored, as under Perl's start_server.
	signal.Ignore(syscall.SIGPIPE)
	specs, err := validate(cfg)
	if err != nil {
		return err
	}
	cfg = withDefaults(cfg)
	up := systemd.NewUpstream(os.Getenv(systemd.EnvNotifySocket))
	logf := newLog(cfg, up)
	pf, err := acquirePIDFile(cfg.PIDFile)
	if err != nil {
		return err
	}
	socks, err := bindSockets(cfg, specs, logf)
	if err == nil {
		err = supervise(ctx, cfg, socks, sigC, up, logf)
	}
	for _, s := range socks {
		s.file.Close()
		removeUnixSocket(s)
	}
	pf.release()
	if err != nil {
		return err
	}
	logf("exiting")
	return nil
}

// bindSockets binds the --port and --path sockets in option order, adopts
// those systemd passed to the starter, and logs the banner. On error the
// sockets bound so far are returned too, for the caller to close.
func bindSockets(cfg Config, specs []socketSpec, logf func(string, ...any)) ([]*boundSocket, error) {
	CloseStrayFDsOnExec()
	socks, err := adoptActivated(os.Getenv, os.Getpid())
	if err != nil {
		return socks, err
	}
	var bound []*boundSocket
	for _, spec := range specs {
		var s *boundSocket
		if spec.network == "unix" {
			if s, err = bindUnix(spec, cfg.Backlog, cfg.PathMode, logf); err != nil {
				return append(bound, socks...), &FieldError{Field: "Paths", Value: spec.given, Err: err}
			}
		} else if s, err = bindInet(spec, cfg.Backlog); err != nil {
			return append(bound, socks...), &FieldError{Field: "Ports", Value: spec.given, Err: err}
		}
		bound = append(bound, s)
	}
	logf("start_server (pid:%d) starting now...", os.Getpid())
	return append(bound, socks...), nil
}

// supervise starts the workers' machinery (readiness sockets, launcher)
// and runs the supervisor loop until it is done; then it removes the status
// file. An error means nothing was started.
func supervise(ctx context.Context, cfg Config, socks []*boundSocket, sigC <-chan os.Signal,
	up *systemd.Upstream, logf func(string, ...any)) error {
	plan := planFDs(socks, cfg.ListenFDs)
	for _, s := range socks {
		if s.spec.fd >= 0 {
			logf("socket is duplicated to file descriptor %d", s.spec.fd)
		}
		logf("listening on %s %s (SERVER_STARTER_PORT key %q, fd %d)", s.spec.network, s.addr, s.spec.key, s.workerFD)
	}
	if cfg.ListenFDs && len(socks) > 0 && plan.listenFDs == 0 {
		logf("LISTEN_FDS not set for workers: the sockets are not on fds 3..%d (=FD)", 2+len(socks))
	}
	notifySocks, err := systemd.NewNotifySockets(logf)
	if err != nil {
		return err
	}
	defer notifySocks.Close()
	exitC, notifyC, doneC := make(chan exitEvent, 16), make(chan notifyEvent, 16), make(chan struct{})
	defer close(doneC)
	l := &launcher{command: cfg.Command, dir: cfg.Dir, envDir: cfg.EnvDir, baseEnv: os.Environ(),
		socks: socks, plan: plan, logf: logf, exitC: exitC, doneC: doneC,
		ready: &readiness{socks: notifySocks, eventC: notifyC, doneC: doneC, logf: logf}}
	if plan.listenFDs > 0 {
		if l.shim, err = systemd.Executable(); err != nil {
			return err
		}
	}
	s := &supervisor{cfg: cfg, backoffMin: backoffMin, backoffMax: backoffMax, logf: logf, os: osSeam{start: l.start, now: time.Now, notifyUp: up.Send}}
	if cfg.SetupDone != nil {
		cfg.SetupDone()
	}
	s.loop(ctx, sigC, exitC, notifyC)
	if cfg.StatusFile != "" {
		os.Remove(cfg.StatusFile)
		os.Remove(failedFile(cfg.StatusFile))
	}
	return nil
}

// newLog returns the starter's logf: lines to cfg.Log,
// one at a time (the launcher logs from its goroutines too). If a write
// fails (the log's reader has exited), cfg.LogLost and upstream hear it
// once and the starter goes on supervising.
func newLog(cfg Config, up *systemd.Upstream) func(string, ...any) {
	log := &logWriter{w: cfg.Log, lost: func(err error) {
		line := fmt.Sprintf("start_server (pid:%d): log output lost (%v); still supervising", os.Getpid(), err)
		if cfg.LogLost != nil {
			fmt.Fprintln(cfg.LogLost, line)
		}
		up.Send("STATUS=" + line)
	}}
	return func(format string, args ...any) { fmt.Fprintf(log, format+"\n", args...) }
}

// logWriter is the starter's log. The first write that fails is reported
// once through lost; later lines are written again (and fail again,
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

// errStartPath marks a start that failed in the starter's own machinery
// (the exec shim could not be started), not in the worker: trying again
// would fail the same way, so the supervisor waits for the next HUP.
var errStartPath = errors.New("the start path failed")
