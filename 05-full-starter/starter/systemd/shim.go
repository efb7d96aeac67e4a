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
// code between fork and exec. So with --listen-fds the starter starts its
// own executable as ShimName, with the worker's fds, directory and
// environment in place; the shim adds LISTEN_PID=<its own pid> and execs
// the worker, which keeps the pid. If its exec fails, it says why and
// exits 127, which the starter reports as a worker that failed to start.

// ShimName is the exec shim's argv[0]: a program that imports this package,
// started under that name, is the shim (see init).
const ShimName = "start_server-exec-shim"

// ShimArgs is the argv of the exec shim that runs the worker at path with
// argv (argv[0] included).
func ShimArgs(path string, argv []string) []string {
	return append([]string{ShimName, path}, argv...)
}

// Executable is the program the starter runs as its exec shim: itself, as
// /proc/self/exe on Linux (even if a deploy replaced its file), else
// os.Executable().
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

// execWorker execs the worker at path with this process's environment,
// unchanged, plus LISTEN_PID. It returns only on failure.
func execWorker(path string, argv []string) error {
	env := append(os.Environ(), EnvListenPID+"="+strconv.Itoa(os.Getpid()))
	// A worker inherits SIGPIPE ignored from the starter; the Go runtime's
	// handler here would be reset to the default by exec: ignore it again.
	signal.Ignore(syscall.SIGPIPE)
	runtime.LockOSThread() // exec replaces the process from this thread
	err := syscall.Exec(path, argv, env)
	return fmt.Errorf("exec %s: %w", path, err)
}
