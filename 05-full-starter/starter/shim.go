package starter

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// shimEnv marks a process as an exec shim; its value is the fd of the
// shim's hand-over pipe. The starter sets it when it starts itself in front
// of a worker; the worker never sees it.
const shimEnv = "SERVER_STARTER_EXEC_SHIM"

// forceShimEnv, set to anything in the starter's environment, makes it start
// every worker that gets LISTEN_FDS through the exec shim, also on Linux
// (where startWithOwnPID is the default): for systems where tracing one's
// own children is not allowed, and to compare the two.
const forceShimEnv = "START_SERVER_EXEC_SHIM"

// shimArg0 is the exec shim's argv[0], what ps shows for a parked shim.
const shimArg0 = "start_server-exec-shim"

// RunShimIfRequested returns at once, doing nothing, unless this process was
// started by the starter as its exec shim; then it never returns.
//
// Why a shim: systemd's LISTEN_PID must be the pid of the worker, known only
// after fork, and Go cannot run code between fork and exec. On Linux the
// launcher writes it into the stopped worker instead (startWithOwnPID);
// where it cannot, or with START_SERVER_EXEC_SHIM set, the starter
// starts its own executable, with the sockets already on their fds, as the
// process that will become the next worker; the shim sets LISTEN_PID to its
// own pid and execs the worker command. exec keeps the pid, the fds and the
// working directory, so the worker sees LISTEN_PID equal to its own pid.
//
// The starter starts the shim ahead of time, not when a restart is asked
// for: a shim starting up is a whole Go runtime starting, about 2 ms that a
// restart would otherwise wait for. Until then the shim is parked: blocked
// reading its hand-over pipe (fd SERVER_STARTER_EXEC_SHIM), holding nothing
// but what the worker will get (fds 0-2, the sockets) and the pipe. At the
// restart the starter writes the worker's argv and environment to the pipe
// and closes it; the shim reads them, closes the pipe, looks the command up
// in PATH (the worker's PATH, from its working directory) and execs it. If
// exec fails, the shim prints why and exits with status 127, which the
// starter reports as a failed start. End of file without a message (the
// starter stopped, or died: its end of the pipe closes with it) makes the
// shim exit with status 0 without running anything.
//
// main() of every program that calls Run must call RunShimIfRequested first,
// before parsing flags or doing anything else (so must a TestMain that runs
// Run in the test binary).
func RunShimIfRequested() {
	v := os.Getenv(shimEnv)
	if v == "" {
		return
	}
	code, err := runShim(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "start_server exec shim: %v\n", err)
	}
	os.Exit(code)
}

// runShim waits for the hand-over on pipe fd v and execs the worker; it
// returns only if there is nothing to run (0) or it failed (127).
func runShim(v string) (int, error) {
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return 127, fmt.Errorf("invalid %s=%q: not a file descriptor above 2", shimEnv, v)
	}
	msg, err := readAllFD(fd)
	syscall.Close(fd)
	if err != nil {
		return 127, fmt.Errorf("read the hand-over pipe: %w", err)
	}
	if len(msg) == 0 {
		return 0, nil // the starter went away before it needed us
	}
	argv, env, err := decodeHandOver(msg)
	if err != nil {
		return 127, err
	}
	return 127, execShim(argv, env)
}

// readAllFD reads fd until end of file. It blocks, in the read system call
// itself: the fd stays out of the Go runtime's poller, which would open
// fds of its own.
func readAllFD(fd int) ([]byte, error) {
	var out []byte
	buf := make([]byte, 16<<10)
	for {
		n, err := syscall.Read(fd, buf)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return nil, err
		case n == 0:
			return out, nil
		}
		out = append(out, buf[:n]...)
	}
}

// encodeHandOver is the message the starter writes to a parked shim:
// "ARGC ENVC\n", then every argument and every environment entry, each
// followed by a NUL byte. The counts let the shim tell a complete message
// from one cut short (an argument may be empty; none contains a NUL).
func encodeHandOver(argv, env []string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %d\n", len(argv), len(env))
	for _, s := range append(append([]string(nil), argv...), env...) {
		b.WriteString(s)
		b.WriteByte(0)
	}
	return []byte(b.String())
}

// decodeHandOver parses encodeHandOver's message.
func decodeHandOver(msg []byte) (argv, env []string, err error) {
	head, rest, ok := strings.Cut(string(msg), "\n")
	var argc, envc int
	if !ok {
		return nil, nil, errors.New("hand-over message without its header line")
	}
	if _, err := fmt.Sscanf(head, "%d %d", &argc, &envc); err != nil || argc < 1 || envc < 0 {
		return nil, nil, fmt.Errorf("hand-over message: bad header %q", head)
	}
	parts := strings.Split(rest, "\x00")
	// n strings each followed by NUL split into n+1 parts, the last empty.
	if len(parts) != argc+envc+1 || parts[len(parts)-1] != "" {
		return nil, nil, fmt.Errorf("hand-over message: %d strings, want %d (cut short?)", len(parts)-1, argc+envc)
	}
	return parts[:argc], parts[argc : argc+envc], nil
}

// execShim replaces the process with argv, with env plus LISTEN_PID set to
// this process's pid; it returns only on failure. argv[0] is looked up in
// env's PATH, as execvp(3) would.
func execShim(argv, env []string) error {
	if len(argv) == 0 || argv[0] == "" {
		return errors.New("no command to exec")
	}
	os.Unsetenv("PATH")
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == "PATH" {
			os.Setenv("PATH", v) // for exec.LookPath
		} else if k == envListenPID || k == shimEnv {
			continue
		}
		out = append(out, kv)
	}
	out = append(out, envListenPID+"="+strconv.Itoa(os.Getpid()))
	path, err := exec.LookPath(argv[0])
	if errors.Is(err, exec.ErrDot) {
		err = nil // execvp(3) would run it too, as Perl does
	}
	if err != nil {
		return fmt.Errorf("failed to exec %s: %w", argv[0], err)
	}
	// The starter ignores SIGPIPE and its workers inherit that, as under
	// Perl's start_server. This process inherited it ignored too, but the
	// Go runtime put its own handler there, which exec would reset to the
	// default: ignore it again, so that the worker gets what a worker the
	// starter execs directly gets.
	signal.Ignore(syscall.SIGPIPE)
	// exec replaces the whole process from the calling thread; lock it so
	// the runtime does not move us mid-call.
	runtime.LockOSThread()
	err = syscall.Exec(path, argv, out)
	return fmt.Errorf("failed to exec %s: %w", path, err)
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
