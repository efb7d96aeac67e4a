package starter

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
)

// shimEnv marks a process as the exec shim. The starter sets it when it
// starts itself in front of a worker; the shim removes it before exec.
const shimEnv = "SERVER_STARTER_EXEC_SHIM"

// RunShimIfRequested returns at once, doing nothing, unless this process was
// started by the starter as its exec shim; then it never returns.
//
// Why a shim: systemd's LISTEN_PID must be the pid of the worker, known only
// after fork, and Go cannot run code between fork and exec. So the starter
// starts its own executable with the sockets already on their fds and
// SERVER_STARTER_EXEC_SHIM=1 in the environment; the shim sets
// LISTEN_PID to its own pid, removes the marker and execs the worker command
// (os.Args[1:], looked up in PATH from the worker's working directory).
// exec keeps the pid, the fds and the environment, so the worker sees
// LISTEN_PID equal to its own pid. If exec fails, the shim prints why and
// exits with status 127, which the starter reports as a failed start.
//
// main() of every program that calls Run must call RunShimIfRequested first,
// before parsing flags or doing anything else (so must a TestMain that runs
// Run in the test binary).
func RunShimIfRequested() {
	if os.Getenv(shimEnv) == "" {
		return
	}
	err := execShim(os.Args[1:])
	fmt.Fprintf(os.Stderr, "start_server exec shim: %v\n", err)
	os.Exit(127)
}

// execShim replaces the process with args; it returns only on failure.
func execShim(args []string) error {
	if len(args) == 0 {
		return errors.New("no command to exec")
	}
	path, err := exec.LookPath(args[0])
	if errors.Is(err, exec.ErrDot) {
		err = nil // execvp(3) would run it too, as Perl does
	}
	if err != nil {
		return fmt.Errorf("failed to exec %s: %w", args[0], err)
	}
	env := make([]string, 0, len(os.Environ())+1)
	for _, kv := range os.Environ() {
		if !hasKey(kv, shimEnv) && !hasKey(kv, envListenPID) {
			env = append(env, kv)
		}
	}
	env = append(env, envListenPID+"="+strconv.Itoa(os.Getpid()))
	// exec replaces the whole process from the calling thread; lock it so
	// the runtime does not move us mid-call.
	runtime.LockOSThread()
	err = syscall.Exec(path, args, env)
	return fmt.Errorf("failed to exec %s: %w", path, err)
}

func hasKey(kv, key string) bool {
	return len(kv) > len(key) && kv[len(key)] == '=' && kv[:len(key)] == key
}

// shimPath is the executable the starter runs as its shim: /proc/self/exe on
// Linux (the running binary even if its file was replaced by a deploy),
// else os.Executable().
func shimPath() (string, error) {
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
