package starter

import (
	"cmp"
	"io"
	"os"
	"syscall"
	"time"
)

// Defaults of the Config fields whose zero value means "the default".
const (
	DefaultInterval            = time.Second
	DefaultKillTimeout         = 30 * time.Second
	DefaultProbation           = time.Second
	DefaultAutoRestartInterval = 360 * time.Second
)

// Config is what start_server's command line says. The zero value of a field
// means "the default" as documented on the field; the CLI fills in values
// from flags and from the ENVDIR, ENABLE_AUTO_RESTART, AUTO_RESTART_INTERVAL
// and KILL_OLD_DELAY environment variables before calling Run.
type Config struct {
	// Ports are the --port specs in option order, exactly as given
	// (PORT, HOST:PORT, [V6]:PORT, with an optional "u" before the port for
	// UDP and an optional "=FD" suffix). Each spec minus its "=FD" suffix is
	// the key in SERVER_STARTER_PORT, normalized as Perl's start_server
	// does: blanks and the "u" dropped, IPv6 in brackets ("127.0.0.1:u9000"
	// has the key "127.0.0.1:9000", "::1:80" the key "[::1]:80").
	Ports []string
	// Paths are the --path unix stream sockets, in option order. An existing
	// socket nobody answers on is replaced (with a warning); anything else
	// at the path (a regular file, a live socket) is an error and is left
	// alone.
	Paths []string
	// PathMode is the permission of the --path sockets (beyond Perl, whose
	// sockets are world-writable): zero means 0600, only the starter's user
	// may connect; 0660 lets its group in.
	PathMode os.FileMode
	// Command is the worker command and its arguments. Required.
	Command []string

	Dir    string // --dir: the workers' working directory ("" = the starter's)
	EnvDir string // --envdir: re-read before every worker start

	Interval     time.Duration  // --interval: alive this long without READY=1 = started (1s)
	SignalOnHUP  syscall.Signal // --signal-on-hup: sent to old workers (SIGTERM)
	SignalOnTERM syscall.Signal // --signal-on-term: forwarded on shutdown (SIGTERM)
	KillOldDelay time.Duration  // --kill-old-delay: between "new is running" and signalling old (0; the CLI applies Perl's 5s with auto-restart)
	Backlog      int            // --backlog: listen(2) backlog (SOMAXCONN)

	AutoRestart         bool          // --enable-auto-restart
	AutoRestartInterval time.Duration // --auto-restart-interval (360s)

	PIDFile    string // --pid-file: "PID\n", flocked while running, removed at exit
	StatusFile string // --status-file: "GEN:PID\n" per live worker, replaced atomically

	// Beyond Server::Starter.

	// ListenFDs gives workers systemd's socket-activation variables
	// (--listen-fds): LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID, the last
	// set by the exec shim workers are then started through (package
	// systemd). Off, workers find their sockets in SERVER_STARTER_PORT
	// alone, as under Perl's start_server.
	ListenFDs bool

	// ReadyTimeout, when positive, requires every worker to send READY=1 on
	// NOTIFY_SOCKET within this time; one that does not is killed and counted
	// as a failed start (--ready-timeout). Zero: READY=1 is optional, and a
	// silent worker is judged by Interval as in Perl.
	ReadyTimeout time.Duration
	// Probation is how long a new worker that sent READY=1 must stay alive
	// before the generation it replaces is signalled (--probation). During
	// it both serve; if the new one dies, that is a failed start: the old
	// generation stays current, never signalled. It does not apply when
	// nothing older runs, nor to a worker without READY=1. Zero means
	// DefaultProbation (1s); negative means none.
	Probation time.Duration
	// KillTimeout is how long a signalled worker (old generation, or all
	// workers at shutdown) may take to exit before it gets SIGKILL
	// (--kill-timeout; zero means the default, 30s; negative means never, as
	// in Perl).
	KillTimeout time.Duration

	// SetupDone, if not nil, is called once Run holds the pid file and the
	// sockets, before the first worker starts (--daemonize: the daemon
	// tells the process that started it that it may exit 0).
	SetupDone func() `json:"-"`

	// Log receives the starter's log lines (os.Stderr if nil).
	Log io.Writer
	// LogLost, if not nil, is told once, in one line, when a write to Log
	// fails (its reader has exited): the starter keeps supervising without
	// its log. The CLI points it at the terminal start_server was started
	// from when --log-file is given. The line also goes upstream as
	// STATUS= when the starter has a NOTIFY_SOCKET.
	LogLost io.Writer
}

// withDefaults is cfg with the defaults in place of the zero values that
// stand for them, as the supervisor uses it.
func withDefaults(cfg Config) Config {
	cfg.Interval = cmp.Or(cfg.Interval, DefaultInterval)
	cfg.KillTimeout = cmp.Or(cfg.KillTimeout, DefaultKillTimeout)
	cfg.Probation = cmp.Or(cfg.Probation, DefaultProbation)
	cfg.AutoRestartInterval = cmp.Or(cfg.AutoRestartInterval, DefaultAutoRestartInterval)
	cfg.SignalOnHUP = cmp.Or(cfg.SignalOnHUP, syscall.SIGTERM)
	cfg.SignalOnTERM = cmp.Or(cfg.SignalOnTERM, syscall.SIGTERM)
	cfg.Backlog = cmp.Or(cfg.Backlog, defaultBacklog())
	cfg.Log = cmp.Or[io.Writer](cfg.Log, os.Stderr)
	return cfg
}
