package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"hotdeploy/05-full-starter/starter"
)

// options is what the command line said. What goes straight into the
// supervisor's Config is set in cfg as it is parsed; the options that
// environment variables and the envdir may stand in for are kept as given
// (nil: not given) for buildConfig (settings.go).
type options struct {
	cfg starter.Config

	killOldDelay, autoRestartInterval *time.Duration
	envDir                            string
	envDirGiven, enableAutoRestart    bool

	logFile                                 string
	restart, stop, daemonize, help, version bool
}

// optKind says whether an option takes a value.
type optKind bool

const (
	valueOpt optKind = false // --name=VALUE or --name VALUE
	flagOpt  optKind = true  // no value: --name
)

// optSpec is one row of the option table: the name without dashes, what it
// takes, and where the value goes.
type optSpec struct {
	name string
	kind optKind
	set  func(o *options, v string) error
}

// ours are the options Server::Starter does not have.
var ours = map[string]bool{"ready-timeout": true, "kill-timeout": true, "path-mode": true, "probation": true, "listen-fds": true}

// optionTable lists every option of start_server: Server::Starter's, with
// the same names and meanings, then ours. In Config a zero duration means
// "the default", so an explicit 0 becomes setSeconds's ifZero.
var optionTable = []optSpec{
	{"port", valueOpt, func(o *options, v string) error { o.cfg.Ports = append(o.cfg.Ports, v); return nil }},
	{"path", valueOpt, func(o *options, v string) error { o.cfg.Paths = append(o.cfg.Paths, v); return nil }},
	// --interval=0 means "do not wait": the smallest positive duration.
	{"interval", valueOpt, func(o *options, v string) error { return setSeconds(&o.cfg.Interval, v, false, time.Nanosecond) }},
	{"signal-on-hup", valueOpt, func(o *options, v string) error { return setSignal(&o.cfg.SignalOnHUP, v) }},
	{"signal-on-term", valueOpt, func(o *options, v string) error { return setSignal(&o.cfg.SignalOnTERM, v) }},
	{"kill-old-delay", valueOpt, func(o *options, v string) error { return setGiven(&o.killOldDelay, v) }},
	{"backlog", valueOpt, func(o *options, v string) error { return setInt(&o.cfg.Backlog, v) }},
	{"dir", valueOpt, func(o *options, v string) error { o.cfg.Dir = v; return nil }},
	{"envdir", valueOpt, func(o *options, v string) error { o.envDir, o.envDirGiven = v, true; return nil }},
	{"enable-auto-restart", flagOpt, func(o *options, _ string) error { o.enableAutoRestart = true; return nil }},
	{"auto-restart-interval", valueOpt, func(o *options, v string) error { return setGiven(&o.autoRestartInterval, v) }},
	{"pid-file", valueOpt, func(o *options, v string) error { o.cfg.PIDFile = v; return nil }},
	{"status-file", valueOpt, func(o *options, v string) error { o.cfg.StatusFile = v; return nil }},
	{"log-file", valueOpt, func(o *options, v string) error { o.logFile = v; return nil }},
	{"restart", flagOpt, func(o *options, _ string) error { o.restart = true; return nil }},
	{"stop", flagOpt, func(o *options, _ string) error { o.stop = true; return nil }},
	{"daemonize", flagOpt, func(o *options, _ string) error { o.daemonize = true; return nil }},
	{"help", flagOpt, func(o *options, _ string) error { o.help = true; return nil }},
	{"version", flagOpt, func(o *options, _ string) error { o.version = true; return nil }},
	// Beyond Server::Starter.
	{"ready-timeout", valueOpt, func(o *options, v string) error { return setSeconds(&o.cfg.ReadyTimeout, v, false, 0) }},
	// --kill-timeout=0: never, like a negative value.
	{"kill-timeout", valueOpt, func(o *options, v string) error { return setSeconds(&o.cfg.KillTimeout, v, true, -1) }},
	{"path-mode", valueOpt, func(o *options, v string) error { return setMode(&o.cfg.PathMode, v) }},
	// --probation=0: none.
	{"probation", valueOpt, func(o *options, v string) error { return setSeconds(&o.cfg.Probation, v, false, -1) }},
	{"listen-fds", flagOpt, func(o *options, _ string) error { o.cfg.ListenFDs = true; return nil }},
}

// usageError is a command line that cannot be run as given; start_server
// exits with exitUsage for it.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef is fmt.Errorf for a usageError.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// parseArgs parses a start_server command line (without the program name)
// the way Perl's Getopt::Long does for start_server: options may come as
// --name=value, --name value or -name=value, the name in any case and
// abbreviated as long as it stays unambiguous (see lookupOption); arguments
// that are not options are the worker command, and so is everything after
// "--". A non-option argument does not end option parsing (Getopt::Long's
// "permute"), so a worker's own flags must come after "--".
func parseArgs(args []string) (*options, error) {
	o := &options{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			o.cfg.Command = append(o.cfg.Command, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			o.cfg.Command = append(o.cfg.Command, a)
			continue
		}
		given, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		spec, err := lookupOption(given)
		if err != nil {
			return nil, usageError{err}
		}
		if spec == nil {
			return nil, usagef("unknown option %s (the worker command and its flags go after --)", a)
		}
		name := spec.name
		if spec.kind == flagOpt {
			if hasValue {
				return nil, usagef("option --%s takes no value, got %q", name, value)
			}
			_ = spec.set(o, "")
			continue
		}
		if !hasValue {
			if i+1 >= len(args) || args[i+1] == "--" {
				return nil, usagef("option --%s needs a value", name)
			}
			i++
			value = args[i]
		}
		if err := spec.set(o, value); err != nil {
			return nil, usagef("option --%s: %w", name, err)
		}
	}
	return o, nil
}

// lookupOption finds the option a command line names the way Getopt::Long
// (with its default auto_abbrev and ignore_case) finds it: the full name in
// any case ("--VERSION"), else the only option whose name starts with the
// given prefix ("--vers"). So that abbreviations written for Perl's
// start_server keep their meaning although we have more options, a prefix
// is first matched against Server::Starter's options alone ("--kill" is
// --kill-old-delay, as in Perl, not ambiguous with our --kill-timeout), then
// against all. It returns nil for no match, an error for an ambiguous one.
func lookupOption(given string) (*optSpec, error) {
	name := strings.ToLower(given)
	if name == "" {
		return nil, nil
	}
	for i := range optionTable {
		if optionTable[i].name == name {
			return &optionTable[i], nil
		}
	}
	var matches []string
	for _, perlOnly := range []bool{true, false} {
		var found *optSpec
		matches = matches[:0]
		for i := range optionTable {
			o := &optionTable[i]
			if (perlOnly && ours[o.name]) || !strings.HasPrefix(o.name, name) {
				continue
			}
			found = o
			matches = append(matches, "--"+o.name)
		}
		if len(matches) == 1 {
			return found, nil
		}
		if len(matches) > 1 {
			break
		}
	}
	if len(matches) == 0 {
		return nil, nil
	}
	return nil, fmt.Errorf("option --%s is ambiguous (%s)", given, strings.Join(matches, ", "))
}

// maxSeconds is the largest number of seconds a time.Duration holds (about
// 292 years), rounded down.
const maxSeconds = math.MaxInt64 / int64(time.Second)

// parseSeconds reads a duration as Server::Starter writes it, a number of
// seconds ("1", "0.5"), or as Go writes it ("500ms", "2s"). NaN, infinities
// and numbers beyond maxSeconds are errors (strconv.ParseFloat accepts the
// first two, and converting them to a Duration gives nonsense).
func parseSeconds(v string, allowNegative bool) (time.Duration, error) {
	v = strings.TrimSpace(v)
	var d time.Duration
	f, err := strconv.ParseFloat(v, 64)
	switch {
	case err == nil && (math.IsNaN(f) || math.IsInf(f, 0)):
		return 0, fmt.Errorf("%q is not a finite number of seconds", v)
	case errors.Is(err, strconv.ErrRange) || (err == nil && math.Abs(f) > float64(maxSeconds)):
		return 0, fmt.Errorf("%q is too large (at most %d seconds)", v, maxSeconds)
	case err == nil:
		d = time.Duration(f * float64(time.Second))
	default:
		if d, err = time.ParseDuration(v); err != nil {
			return 0, fmt.Errorf("%q is not a number of seconds or a duration like 500ms", v)
		}
	}
	if d < 0 && !allowNegative {
		return 0, fmt.Errorf("%q is negative", v)
	}
	return d, nil
}

// setSeconds sets *dst to a duration option, or to ifZero if it is 0.
func setSeconds(dst *time.Duration, v string, allowNegative bool, ifZero time.Duration) error {
	d, err := parseSeconds(v, allowNegative)
	if d == 0 {
		d = ifZero
	}
	*dst = d
	return err
}

// setGiven sets *dst to a duration option; non-nil means "given".
func setGiven(dst **time.Duration, v string) error {
	d, err := parseSeconds(v, false)
	*dst = &d
	return err
}

func setInt(dst *int, v string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return fmt.Errorf("%q is not a positive integer", v)
	}
	*dst = n
	return nil
}

// setSignal reads --signal-on-hup and --signal-on-term (starter.ParseSignal).
func setSignal(dst *syscall.Signal, v string) (err error) {
	*dst, err = starter.ParseSignal(v)
	return err
}

// setMode reads --path-mode: permission bits in octal, as chmod(1) takes
// them ("660", "0660", "0o660"), from 1 to 0777.
func setMode(dst *os.FileMode, v string) error {
	t := strings.TrimPrefix(strings.TrimSpace(v), "0o")
	n, err := strconv.ParseUint(t, 8, 32)
	if err != nil || n == 0 || n > 0o777 {
		return fmt.Errorf("%q is not a permission in octal from 1 to 0777 (such as 0660)", v)
	}
	*dst = os.FileMode(n)
	return nil
}
