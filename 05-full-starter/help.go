package main

// versionText is what --version prints.
const versionText = "start_server 0.35-go (hotdeploy stage 05; compatible with Server::Starter 0.35)"

// usageText is what --help prints.
const usageText = `Usage:
  start_server [options] -- COMMAND [ARGS...]
  start_server                         (no arguments: a demo on 127.0.0.1:8080)

  Runs COMMAND as a worker with listening sockets it inherits, and on SIGHUP
  replaces the worker without closing them (zero-downtime deploy).
  Options take --opt=value or --opt value, in any case, and may be shortened
  while unambiguous (--vers), as with Perl's Getopt::Long. Durations are
  seconds ("1", "0.5") or Go durations ("500ms").

Options (Server::Starter's):
  --port=SPEC               TCP socket to listen on (repeatable): PORT, HOST:PORT,
                            [IPV6]:PORT; uPORT for UDP; =FD suffix puts it on fd FD
  --path=PATH               unix stream socket to listen on (repeatable)
  --interval=SECONDS        a worker alive this long counts as started (1)
  --signal-on-hup=SIG       signal for old workers after a restart (TERM)
  --signal-on-term=SIG      signal for workers when start_server gets TERM (TERM)
  --kill-old-delay=SECONDS  wait before signalling old workers (0; 5 with auto-restart)
  --backlog=N               listen(2) backlog (SOMAXCONN)
  --dir=DIR                 workers' working directory
  --envdir=DIR              a file NAME in DIR sets env var NAME for each new worker
  --enable-auto-restart     restart every --auto-restart-interval
  --auto-restart-interval=SECONDS   (360)
  --pid-file=FILE           write start_server's PID there (locked while running)
  --status-file=FILE        "GENERATION:PID" of every live worker
  --log-file=FILE           append output to FILE; "|cmd" pipes it to cmd (sh -c)
  --restart                 HUP the running start_server (--pid-file, --status-file)
                            and wait until only the new generation is left
  --stop                    TERM the running start_server (--pid-file) and wait
  --daemonize               run in the background in a session of its own
                            (needs --log-file); returns once it listens
  --help, --version

Options (beyond Server::Starter):
  --ready-timeout=SECONDS   require READY=1 on NOTIFY_SOCKET within this time
                            (0: READY=1 optional, --interval decides)
  --probation=SECONDS       after a new worker's READY=1, keep the old generation
                            (not signalled) until the new one has lived this long;
                            if it dies meanwhile, the restart failed (1; 0: none)
  --kill-timeout=SECONDS    SIGKILL a signalled worker after this long (30; 0 or
                            negative: never); keep it longer than the workers'
                            drain deadline
  --path-mode=MODE          permissions of the --path sockets, octal (0600: only
                            start_server's user; Perl's are 0777)
  --listen-fds              also give workers systemd's LISTEN_FDS, LISTEN_FDNAMES
                            and LISTEN_PID (started through an exec shim)

Exit status: 0 done; 1 the supervisor or --restart/--stop failed (a port in
  use, a held pid file, ...); 2 a wrong command line (nothing was started).

Environment: ENVDIR, ENABLE_AUTO_RESTART, AUTO_RESTART_INTERVAL, KILL_OLD_DELAY
  stand in for their options when the option is not given; files of those names
  in the envdir win over both.

Workers get SERVER_STARTER_PORT ("127.0.0.1:8080=3;/tmp/app.sock=4"),
SERVER_STARTER_GENERATION and NOTIFY_SOCKET (and with --listen-fds, LISTEN_FDS,
LISTEN_PID, LISTEN_FDNAMES). See 05-full-starter/README.md.
`
