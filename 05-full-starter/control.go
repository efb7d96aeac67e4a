package main

import (
	"hotdeploy/05-full-starter/starter"
)

// restartServer is --restart: HUP the start_server named by --pid-file and
// wait on evidence (starter.Restart), not for a time computed from our own
// options, which need not be the server's. It blocks until then.
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
