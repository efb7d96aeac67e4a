package main

import (
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

// buildConfig is the starter.Config the command line asks for: o.cfg, plus
// the settings that environment variables and the envdir may give — EnvDir,
// AutoRestart, AutoRestartInterval, KillOldDelay. It checks only what it
// converts; the Config as a whole is checked by starter.Validate. It reads
// the envdir and does not block otherwise. getenv is os.Getenv in
// production.
//
// Precedence, as measured on Perl's start_server 0.35 (whose code sets these
// environment variables from the options before reading the envdir): a
// command-line option beats the environment variable of the same meaning
// (ENVDIR, ENABLE_AUTO_RESTART, AUTO_RESTART_INTERVAL, KILL_OLD_DELAY),
// which beats the default; and a file of that name in the envdir beats both.
func buildConfig(o *options, getenv func(string) string) (starter.Config, error) {
	cfg := o.cfg
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
			return cfg, usagef("%s: %w", envAutoRestartInterval, err)
		}
		cfg.AutoRestartInterval = d
	}
	if v, ok := env[envKillOldDelay]; ok {
		d, err := parseSeconds(v, false)
		if err != nil {
			return cfg, usagef("%s: %w", envKillOldDelay, err)
		}
		cfg.KillOldDelay = d
	} else if cfg.AutoRestart {
		cfg.KillOldDelay = defaultKillOldDelayAuto
	}
	return cfg, nil
}

// perlTrue is Perl's truth for a string: anything but "" and "0".
func perlTrue(v string) bool { return v != "" && v != "0" }
