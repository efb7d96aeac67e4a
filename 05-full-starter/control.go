package main

import (
	"hotdeploy/05-full-starter/starter"
)

// restartServer is --restart: HUP the start_server named by --pid-file and
// wait until the status file lists only a newer generation. It waits on
// evidence, not for a time computed from its own options (which need not be
// the server's): it returns as soon as the restart is done, the new
// generation has failed to start (the server's failure marker), or the
// server has exited. Every step of a restart is bounded by the server's own
// settings (--interval or --ready-timeout, --probation, --kill-old-delay,
// --kill-timeout), so it ends when they say; only a --kill-timeout of "never"
// with an old worker that ignores its signal makes it wait as long as that
// worker lives. Unlike Perl's, it does not wait forever for a start that
// failed. It blocks until then.
func restartServer(o *options) error {
	if o.pidFile == "" || o.statusFile == "" {
		return usagef("--restart needs --pid-file and --status-file")
	}
	return starter.Restart(o.pidFile, o.statusFile, 0)
}

// stopServer is --stop: TERM the start_server named by --pid-file and wait
// until it has exited, which it does once its workers have (bounded by the
// server's --kill-timeout, as with --restart). It blocks until then.
func stopServer(o *options) error {
	if o.pidFile == "" {
		return usagef("--stop needs --pid-file")
	}
	return starter.Stop(o.pidFile, 0)
}
