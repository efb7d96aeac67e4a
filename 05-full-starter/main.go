// Command start_server is a Server::Starter-compatible superdaemon for
// hot-deploying server programs:
//
//	start_server [options] -- COMMAND [ARGS...]
//
// It binds the listening sockets once, runs COMMAND with them inherited, and
// on SIGHUP starts a new worker and retires the old one without ever closing
// the sockets. The supervisor itself is package starter; this file and its
// siblings are the command line: options (options.go), defaults and
// environment variables (settings.go), --log-file (logfile.go),
// --daemonize (daemon.go), and the no-argument demo (demo.go).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"hotdeploy/05-full-starter/starter"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the supervisor or a control command failed
	exitUsage = 2 // the command line is wrong
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == demoWorkerArg {
		os.Exit(demoWorker(os.Args[2:]))
	}
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is start_server with its arguments, environment and output streams;
// it returns the exit code. It blocks while the supervisor runs.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return runDemo(getenv, stdout, stderr)
	}
	o, err := parseArgs(args)
	if err != nil {
		return fail(stderr, err)
	}
	switch {
	case o.help:
		fmt.Fprint(stdout, usageText)
		return exitOK
	case o.version:
		fmt.Fprintln(stdout, versionText)
		return exitOK
	case o.restart && (o.cfg.PIDFile == "" || o.cfg.StatusFile == ""):
		return fail(stderr, usagef("--restart needs --pid-file and --status-file"))
	case o.restart: // waits on evidence, not for a time from our options (the server's may differ)
		return fail(stderr, starter.Restart(o.cfg.PIDFile, o.cfg.StatusFile, 0))
	case o.stop && o.cfg.PIDFile == "":
		return fail(stderr, usagef("--stop needs --pid-file"))
	case o.stop:
		return fail(stderr, starter.Stop(o.cfg.PIDFile, 0))
	case o.daemonize && o.logFile == "":
		return fail(stderr, usagef("--daemonize requires --log-file (where the daemon's output goes)"))
	}
	cfg, err := buildConfig(o, getenv)
	if err != nil {
		return fail(stderr, err)
	}
	// Everything the supervisor would refuse before binding, refused here
	// as a wrong command line: one line, exit 2, nothing bound or started.
	if err := starter.Validate(cfg); err != nil {
		return fail(stderr, usageError{err})
	}
	if err := checkStatusFileDir(cfg.StatusFile); err != nil {
		return fail(stderr, err)
	}
	report := daemonReport(getenv)
	if o.daemonize && report == nil {
		return daemonize(args, stderr)
	}
	if report != nil {
		defer report.Close()
		stderr = io.MultiWriter(stderr, report) // the error line, if any, goes back too
		cfg.SetupDone = func() { fmt.Fprintln(report, "ok"); report.Close() }
	}
	if o.logFile != "" {
		lg, err := openLog(o.logFile)
		if err != nil {
			return fail(stderr, err)
		}
		defer lg.close()
		// Errors that end the supervisor go to the log and to the
		// terminal start_server was started from.
		stderr = io.MultiWriter(lg.terminal, os.Stderr)
		if report != nil {
			stderr = io.MultiWriter(stderr, report)
		}
		// If the log command exits, the terminal hears it once.
		cfg.LogLost = lg.terminal
	}
	if err := starter.Run(context.Background(), cfg); err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

// fail prints err as one line and returns the matching exit code (exitOK for
// a nil err).
func fail(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "start_server: %s\n", message(err))
	if errors.As(err, new(usageError)) {
		return exitUsage
	}
	return exitError
}

// message is the text of err for start_server's one error line: an error
// about a starter.Config field names the option it came from.
func message(err error) string {
	var fe *starter.FieldError
	if !errors.As(err, &fe) {
		return err.Error()
	}
	if fe.Field == "Command" && fe.Value == "" {
		return fe.Err.Error() + ": start_server [options] -- COMMAND [ARGS...]"
	}
	return fe.Describe(fe.Flag())
}

// checkStatusFileDir reports a --status-file that cannot be written. The
// status file is replaced atomically (a temporary file beside it, then
// rename), so what must work is creating a file in its directory; this
// probes exactly that with a file of its own, removed at once.
func checkStatusFileDir(statusFile string) error {
	if statusFile == "" {
		return nil
	}
	probe := fmt.Sprintf("%s.probe.%d", statusFile, os.Getpid())
	f, err := os.OpenFile(probe, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("cannot write --status-file %s: %w", statusFile, err)
	}
	f.Close()
	return os.Remove(probe)
}
