package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

	"hotdeploy/05-full-starter/starter"
)

// --daemonize, as Perl's start_server has it (fork, setsid, fork), with one
// re-exec, since a Go program cannot fork: the process started from the
// terminal checks the command line, then starts this program again with
// the same arguments in a session of its own (setsid), stdin and stdout
// from /dev/null until the daemon opens --log-file, and a pipe on fd 3.
// The daemon binds the sockets and takes the pid file (once: nothing is
// bound twice); then it writes "ok" on the pipe, or its one error line,
// and the first process exits 0, or 1 with that line. So when it returns,
// the server listens and its pid file names the daemon, and a bind error
// still reaches the caller's terminal and exit status. The daemon opens no
// terminal, so Perl's second fork (which keeps a session leader from
// acquiring one) has nothing to prevent.

// daemonEnv marks the daemon; its value is the fd of the report pipe.
const daemonEnv = "START_SERVER_DAEMON_REPORT_FD"

// daemonize starts the daemon with args and returns the exit code once it
// has reported. It blocks until then.
func daemonize(args []string, stderr io.Writer) int {
	self, err := os.Executable()
	if err != nil {
		return fail(stderr, fmt.Errorf("--daemonize: find own executable: %w", err))
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fail(stderr, fmt.Errorf("--daemonize: %w", err))
	}
	defer devNull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return fail(stderr, fmt.Errorf("--daemonize: %w", err))
	}
	defer r.Close()
	starter.CloseStrayFDsOnExec() // the daemon must not hold our parent's fds
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), daemonEnv+"=3")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devNull, devNull, devNull
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close() // the daemon has its copy: end of file once it closes it
	if err != nil {
		return fail(stderr, fmt.Errorf("--daemonize: %w", err))
	}
	report, _ := io.ReadAll(r)
	switch {
	case string(report) == "ok\n":
		return exitOK
	case len(report) > 0:
		fmt.Fprint(stderr, string(report))
	default:
		fmt.Fprintf(stderr, "start_server: the daemon (pid %d) exited during its setup; see its --log-file\n", cmd.Process.Pid)
	}
	return exitError
}

// daemonReport is the daemon's end of the report pipe, or nil if this
// process is not the daemon.
func daemonReport(getenv func(string) string) *os.File {
	if getenv(daemonEnv) != "3" {
		return nil
	}
	os.Unsetenv(daemonEnv) // not for the workers
	return os.NewFile(3, "daemon report")
}
