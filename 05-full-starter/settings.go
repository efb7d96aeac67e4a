package main

import (
	"syscall"
	"time"

	"hotdeploy/05-full-starter/starter"
)

// The environment variables that stand in for options, as in Server::Starter.
const (
	envEnvDir              = "ENVDIR"
	envEnableAutoRestart   = "ENABLE_AUTO_RESTART"
	envAutoRestartInterval = "AUTO_RESTART_INTERVAL"
	envKillOldDelay        = "KILL_OLD_DELAY"
)

// Defaults that the CLI decides itself (the others are starter.Config's
// zero-value defaults).
const (
	defaultKillOldDelayAuto = 5 * time.Second // --kill-old-delay with --enable-auto-restart
)

// buildConfig turns the parsed command line into a starter.Config. It
// checks only what it converts (signal names, the timings); the Config as a
// whole is checked by starter.Validate.
//
// Precedence, as measured on Perl's start_server 0.35 (whose code sets these
// environment variables from the options before reading the envdir): a
// command-line option beats the environment variable of the same meaning
// (ENVDIR, ENABLE_AUTO_RESTART, AUTO_RESTART_INTERVAL, KILL_OLD_DELAY),
// which beats the default; and a file of that name in the envdir beats both.
// getenv is os.Getenv in production.
func buildConfig(o *options, getenv func(string) string) (starter.Config, error) {
	cfg := starter.Config{
		Ports:   o.ports,
		Paths:   o.paths,
		Command: o.command,
		Dir:     o.dir,

		ListenFDs: o.listenFDs,
	}
	for _, s := range []struct {
		opt, value string
		dst        *syscall.Signal
	}{
		{"--signal-on-hup", o.signalOnHUP, &cfg.SignalOnHUP},
		{"--signal-on-term", o.signalOnTERM, &cfg.SignalOnTERM},
	} {
		if s.value == "" {
			continue
		}
		sig, err := starter.ParseSignal(s.value)
		if err != nil {
			return cfg, usagef("%s: %w", s.opt, err)
		}
		*s.dst = sig
	}

	if err := applyTimings(o, getenv, &cfg); err != nil {
		return cfg, err
	}
	if o.backlog != nil {
		cfg.Backlog = *o.backlog
	}
	if o.pathMode != nil {
		cfg.PathMode = *o.pathMode
	}
	cfg.PIDFile, cfg.StatusFile = o.pidFile, o.statusFile
	return cfg, nil
}

// applyTimings sets the fields of cfg that decide how long the supervisor
// waits — AutoRestart, AutoRestartInterval, KillOldDelay, Interval,
// ReadyTimeout, Probation, KillTimeout, and EnvDir, whose files count too — from the
// options, the environment variables and the envdir, with the precedence
// described at buildConfig. It reads the envdir and does not block
// otherwise.
func applyTimings(o *options, getenv func(string) string, cfg *starter.Config) error {
	// Environment variables, unless the option was given.
	env := map[string]string{}
	for _, k := range []string{envEnvDir, envEnableAutoRestart, envAutoRestartInterval, envKillOldDelay} {
		if v := getenv(k); v != "" {
			env[k] = v
		}
	}
	if o.envDirGiven {
		env[envEnvDir] = o.envDir
	}
	if o.enableAutoRestart {
		env[envEnableAutoRestart] = "1"
	}
	if o.autoRestartInterval != nil {
		env[envAutoRestartInterval] = o.autoRestartInterval.String()
	}
	if o.killOldDelay != nil {
		env[envKillOldDelay] = o.killOldDelay.String()
	}
	// Then the envdir's files of those names.
	cfg.EnvDir = env[envEnvDir]
	if cfg.EnvDir != "" {
		files, _ := starter.ReadEnvDir(cfg.EnvDir) // a missing envdir is Validate's to report
		for _, k := range []string{envEnableAutoRestart, envAutoRestartInterval, envKillOldDelay} {
			if v, ok := files[k]; ok {
				env[k] = v
			}
		}
	}

	cfg.AutoRestart = perlTrue(env[envEnableAutoRestart])
	if v, ok := env[envAutoRestartInterval]; ok && cfg.AutoRestart {
		d, err := parseSeconds(v, false)
		if err != nil {
			return usagef("%s: %w", envAutoRestartInterval, err)
		}
		cfg.AutoRestartInterval = d
	}
	if v, ok := env[envKillOldDelay]; ok {
		d, err := parseSeconds(v, false)
		if err != nil {
			return usagef("%s: %w", envKillOldDelay, err)
		}
		cfg.KillOldDelay = d
	} else if cfg.AutoRestart {
		cfg.KillOldDelay = defaultKillOldDelayAuto
	}

	if o.interval != nil {
		cfg.Interval = *o.interval
		if cfg.Interval == 0 {
			// Config's zero means "the default, 1s"; --interval=0 means
			// "do not wait", which the smallest positive duration says.
			cfg.Interval = time.Nanosecond
		}
	}
	if o.readyTimeout != nil {
		cfg.ReadyTimeout = *o.readyTimeout
	}
	if o.probation != nil {
		cfg.Probation = *o.probation
		if cfg.Probation == 0 {
			cfg.Probation = -1 // --probation=0: none (Config's zero is the default)
		}
	}
	if o.killTimeout != nil {
		cfg.KillTimeout = *o.killTimeout
		if cfg.KillTimeout == 0 {
			cfg.KillTimeout = -1 // --kill-timeout=0: never, like a negative value
		}
	}
	return nil
}

// perlTrue is Perl's truth for a string: anything but "" and "0".
func perlTrue(v string) bool { return v != "" && v != "0" }
