package starter

import (
	"fmt"
	"strconv"
	"syscall"
	"time"
)

// process is a started worker as the supervisor sees it. The real one
// (worker.go) wraps an os/exec command; tests use fakes.
type process interface {
	Pid() int
	// Signal sends sig to the worker. It does not wait for anything.
	Signal(sig syscall.Signal) error
}

// exitStatus says how a worker ended.
type exitStatus struct {
	raw  int    // the wait status as Perl's $? shows it: exit 1 is 256, SIGTERM is 15
	text string // the same for people: "exit code 1", "killed by SIGTERM"
}

// String is Perl's number alone ("256"), so that log lines Perl also prints
// ("old worker 42 died, status:256") read exactly as Perl's and a log
// parser's `status:(\d+)` still matches; the readable form goes on a line
// of its own (see supervisor.onExit).
func (e exitStatus) String() string { return strconv.Itoa(e.raw) }

// detail is the number followed by the readable form: "256 (exit code 1)".
func (e exitStatus) detail() string { return fmt.Sprintf("%d (%s)", e.raw, e.text) }

// waitStatusToExit converts a wait status.
func waitStatusToExit(ws syscall.WaitStatus) exitStatus {
	st := exitStatus{raw: int(ws)}
	switch {
	case ws.Exited():
		st.text = fmt.Sprintf("exit code %d", ws.ExitStatus())
	case ws.Signaled():
		st.text = "killed by SIG" + signalName(ws.Signal())
	default:
		st.text = "wait status " + fmt.Sprint(int(ws))
	}
	return st
}

// exitEvent reports that the worker with pid has exited and been reaped.
type exitEvent struct {
	pid    int
	status exitStatus
}

// osSeam is what the supervisor's decisions need from the outside world
// (processes, the clock, the upstream notify socket), in one place, so that
// the loop can be tested with fake processes and a fake clock. Files (the
// status file and its failure marker) it writes itself: tests point them at
// a temporary directory.
type osSeam struct {
	// start starts worker generation gen. It does not wait for the worker;
	// the worker's exit must later arrive as an exitEvent on the loop's
	// exit channel (the real implementation reaps it in a goroutine).
	start func(gen int) (process, error)
	// now is the clock.
	now func() time.Time
	// notifyUp sends an sd_notify message to the starter's own supervisor
	// (systemd.Upstream.Send); nil sends nothing.
	notifyUp func(msg string)
}
