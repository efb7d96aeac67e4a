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
// start fails), it gives up after a bound derived from the settings (see
// restartTimeout). getenv is os.Getenv in production. It blocks until then.
func restartServer(o *options, getenv func(string) string) error {
	if o.pidFile == "" || o.statusFile == "" {
		return usagef("--restart needs --pid-file and --status-file")
	}
	timeout, err := restartTimeout(o, getenv)
	if err != nil {
		return err
	}
	return starter.Restart(o.pidFile, o.statusFile, timeout)
}

// stopServer is --stop: TERM the start_server named by --pid-file and wait
// until it has exited. It blocks until then, or until a bound derived from
// the options.
func stopServer(o *options) error {
	if o.pidFile == "" {
		return usagef("--stop needs --pid-file")
	}
	return starter.Stop(o.pidFile, boundKillTimeout(o.killTimeout)+controlSlack)
}

// restartTimeout is how long a restart may take: the new worker's start
// (--ready-timeout, or --interval), --kill-old-delay, and the old worker's
// drain (--kill-timeout), plus controlSlack. The durations are the ones the
// server runs with when given the same options and environment: they come
// from applyTimings, so KILL_OLD_DELAY, the envdir and the 5 s kill-old-delay
// of --enable-auto-restart count.
func restartTimeout(o *options, getenv func(string) string) (time.Duration, error) {
	var cfg starter.Config
	if err := applyTimings(o, getenv, &cfg); err != nil {
		return 0, err
	}
	start := cfg.Interval
	if start == 0 {
		start = starter.DefaultInterval
	}
	start = max(start, cfg.ReadyTimeout)
	return start + cfg.KillOldDelay + boundKillTimeout(&cfg.KillTimeout) + controlSlack, nil
}

// boundKillTimeout is a --kill-timeout (nil: not given) as a bound for a
// wait: not given, zero and negative ("never") count as the default.
func boundKillTimeout(d *time.Duration) time.Duration {
	if d == nil || *d <= 0 {
		return starter.DefaultKillTimeout
	}
	return *d
}
