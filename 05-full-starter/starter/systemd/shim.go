package systemd

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
)

// The exec shim. A worker that speaks systemd's socket activation checks
// that LISTEN_PID is its own pid, known only after fork, and Go cannot run
// code between fork and exec. So with --listen-fds the starter does not
// exec the worker itself: it starts its own executable under the name
// ShimName, with the worker's fds, directory and environment already in
// place; the shim adds LISTEN_PID=<its own pid> to that environment and
// execs the worker. exec keeps the pid, so the worker sees its own pid.
//
// The shim is an ordinary child, started when the worker is started
// (about 2 ms of a Go runtime starting, measured in the 05 README): nothing
// is parked, traced or kept between restarts. If its exec fails, it says
// why on stderr and exits with status 127, which the starter reports as a
// worker that failed to start.

// ShimName is the exec shim's argv[0]: an executable that imports this
// package and is started under that name is the shim, not itself (see
// init).
const ShimName = "start_server-exec-shim"

// ShimArgs is the argv of the exec shim that runs the worker at path with
// argv (argv[0] included).
func ShimArgs(path string, argv []string) []string {
	return append([]string{ShimName, path}, argv...)
}

// Executable is the program the starter runs as its exec shim: itself, as
// /proc/self/exe on Linux (the running binary even if a deploy replaced its
// file), else os.Executable().
func Executable() (string, error) {
	if runtime.GOOS == "linux" {
		if _, err := os.Stat("/proc/self/exe"); err == nil {
			return "/proc/self/exe", nil
		}
	}
	p, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("exec shim: find own executable: %w", err)
	}
	return p, nil
}

// init runs the shim before main when this process was started as one:
// the shim must not parse start_server's flags or do anything else.
func init() {
	if len(os.Args) < 3 || os.Args[0] != ShimName {
		return
	}
	err := execWorker(os.Args[1], os.Args[2:])
	fmt.Fprintf(os.Stderr, "start_server exec shim: %v\n", err)
	os.Exit(127)
}

// execWorker replaces the process with the worker at path, its environment
// being this process's own, unchanged, plus LISTEN_PID. It returns only on
// failure.
func execWorker(path string, argv []string) error {
	env := append(os.Environ(), EnvListenPID+"="+strconv.Itoa(os.Getpid()))
	// The starter ignores SIGPIPE and a worker it execs inherits that. The
	// Go runtime put its own handler here, which exec would reset to the
	// default: ignore it again, so the worker gets what it would get
	// without the shim.
	signal.Ignore(syscall.SIGPIPE)
	runtime.LockOSThread() // exec replaces the process from this thread
	err := syscall.Exec(path, argv, env)
	return fmt.Errorf("exec %s: %w", path, err)
}
