//go:build linux

package starter

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// canStartWithOwnPID says whether startWithOwnPID can work on this OS.
const canStartWithOwnPID = true

// startWithOwnPID starts cmd, whose environment ends with pidSlot(width),
// and fills that slot with the worker's own pid before the worker runs a
// single instruction, so that LISTEN_PID is right without an exec shim.
// It blocks until the worker is running (or failed to start).
//
// How: Go cannot run code between fork and exec, but a tracer may change a
// stopped tracee's memory. The child asks to be traced
// (SysProcAttr.Ptrace: PTRACE_TRACEME) and execs the worker as usual
// (vfork+exec, as fast as any start); the kernel stops it with SIGTRAP right
// after the exec. Its environment strings are then at env_start
// (/proc/PID/stat) in the order we gave them, so the slot's address is
// known: this writes the pid there (NUL-padded), checks what it replaced,
// and detaches. The pending SIGTRAP is consumed by that stop, so the worker
// starts as if never traced. A few syscalls instead of a whole Go runtime
// starting and exec'ing again.
//
// ptrace requests must come from the thread that started the tracee, so
// this runs locked to its OS thread. Errors: the start's own (as
// cmd.Start), or a wrapped ptrace error after which the worker was killed
// and reaped. A start refused with EPERM means this process may not trace
// its children (running under strace, a seccomp or LSM policy, Yama
// ptrace_scope 3): the caller starts workers through the exec shim then.
//
// A limit: a signal sent to the worker's process group in the few
// microseconds between the child's PTRACE_TRACEME and its execve would stop
// it before the exec, while this thread still waits for the exec (vfork):
// the start would hang until that child is killed. Terminal signals during
// those microseconds of a restart are the only way to get there.
func startWithOwnPID(cmd *exec.Cmd, width int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Ptrace = true
	if err := cmd.Start(); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	fail := func(err error) error {
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("set LISTEN_PID of worker %d: %w", pid, err)
	}
	if err := waitExecStop(pid); err != nil {
		return fail(err)
	}
	if err := writePID(pid, cmd.Env, width); err != nil {
		return fail(err)
	}
	if err := unix.PtraceDetach(pid); err != nil {
		return fail(fmt.Errorf("ptrace detach: %w", err))
	}
	return nil
}

// waitExecStop waits until the traced pid stops for the SIGTRAP its exec
// raised. Signals that reach it first (SIGHUP, SIGINT, SIGQUIT sort before
// SIGTRAP) are passed on: the worker gets them as it would untraced.
func waitExecStop(pid int) error {
	for {
		var ws unix.WaitStatus
		if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil {
			if err == unix.EINTR {
				continue
			}
			return fmt.Errorf("wait for the exec: %w", err)
		}
		switch {
		case ws.Exited() || ws.Signaled():
			return fmt.Errorf("it ended before it ran: %v", waitStatusToExit(syscall.WaitStatus(ws)).detail())
		case ws.Stopped() && ws.StopSignal() == unix.SIGTRAP:
			return nil
		case ws.Stopped():
			if err := unix.PtraceCont(pid, int(ws.StopSignal())); err != nil {
				return fmt.Errorf("ptrace cont: %w", err)
			}
		}
	}
}

// writePID writes pid into the LISTEN_PID slot, the last of env, in the
// stopped tracee's memory, after checking that the slot is where env says.
func writePID(pid int, env []string, width int) error {
	start, err := envStart(pid)
	if err != nil {
		return err
	}
	slot := env[len(env)-1]
	if slot != pidSlot(width) {
		return errors.New("the environment does not end with the LISTEN_PID slot")
	}
	addr := start
	for _, kv := range env[:len(env)-1] {
		addr += uintptr(len(kv) + 1)
	}
	addr += uintptr(len(envListenPID) + 1)
	val := []byte(strconv.Itoa(pid))
	if len(val) > width {
		return fmt.Errorf("pid %d is wider than the slot (%d digits)", pid, width)
	}
	got := make([]byte, width)
	if _, err := unix.ProcessVMReadv(pid, []unix.Iovec{iovec(got)}, []unix.RemoteIovec{{Base: addr, Len: width}}, 0); err != nil {
		return fmt.Errorf("read the worker's environment: %w", err)
	}
	if string(got) != slot[len(envListenPID)+1:] {
		return fmt.Errorf("the LISTEN_PID slot is not at env_start+%d (found %q)", addr-start, got)
	}
	val = append(val, make([]byte, width-len(val))...) // NULs: the string ends after the digits
	if _, err := unix.ProcessVMWritev(pid, []unix.Iovec{iovec(val)}, []unix.RemoteIovec{{Base: addr, Len: width}}, 0); err != nil {
		return fmt.Errorf("write the worker's environment: %w", err)
	}
	return nil
}

func iovec(b []byte) unix.Iovec {
	v := unix.Iovec{Base: &b[0]}
	v.SetLen(len(b))
	return v
}

// envStart is where pid's environment strings start (field 50 of
// /proc/PID/stat, Linux 3.5 and later).
func envStart(pid int) (uintptr, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold anything.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 > len(b) {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+2:])) // f[0] is field 3
	const field = 50
	if len(f) <= field-3 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields, no env_start (Linux 3.5 or later needed)", pid, len(f)+2)
	}
	v, err := strconv.ParseUint(f[field-3], 10, 64)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("/proc/%d/stat: env_start %q", pid, f[field-3])
	}
	return uintptr(v), nil
}

// pidWidth is how many digits a pid can have here: those of pid_max-1
// (7 if it cannot be read: the largest pid_max Linux allows is 4194304).
func pidWidth() int {
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if n, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil && n > 0 {
		return len(strconv.Itoa(n - 1))
	}
	return 7
}
