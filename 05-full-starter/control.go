package main

import (
	"time"

	"hotdeploy/05-full-starter/starter"
)

// controlSlack is added to the time a restart or stop can legitimately take,
// for a loaded machine.
const controlSlack = 30 * time.Second

// restartServer is --restart: HUP the start_server named by --pid-file and
// wait until the status file lists only a newer generation. Unlike Perl's
// (which waits forever for exactly generation G+1 and so hangs when that
// start fails), it gives up after a bound derived from the options.
// It blocks until then.
func restartServer(o *options) error {
	if o.pidFile == "" || o.statusFile == "" {
		return usagef("--restart needs --pid-file and --status-file")
	}
	return starter.Restart(o.pidFile, o.statusFile, restartTimeout(o))
}

// stopServer is --stop: TERM the start_server named by --pid-file and wait
// until it has exited. It blocks until then, or until a bound derived from
// the options.
func stopServer(o *options) error {
	if o.pidFile == "" {
		return usagef("--stop needs --pid-file")
	}
	return starter.Stop(o.pidFile, killTimeout(o)+controlSlack)
}

// restartTimeout is how long a restart may take: the new worker's start
// (--ready-timeout, or --interval), --kill-old-delay, and the old worker's
// drain (--kill-timeout).
func restartTimeout(o *options) time.Duration {
	start := time.Second
	if o.interval != nil {
		start = *o.interval
	}
	if o.readyTimeout != nil && *o.readyTimeout > start {
		start = *o.readyTimeout
	}
	var delay time.Duration
	if o.killOldDelay != nil {
		delay = *o.killOldDelay
	}
	return start + delay + killTimeout(o) + controlSlack
}

// killTimeout is --kill-timeout with its default; "never" counts as the
// default for the purpose of bounding a wait.
func killTimeout(o *options) time.Duration {
	if o.killTimeout == nil || *o.killTimeout <= 0 {
		return defaultKillTimeout
	}
	return *o.killTimeout
}
