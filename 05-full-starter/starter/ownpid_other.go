//go:build !linux

package starter

import (
	"errors"
	"os/exec"
)

// canStartWithOwnPID says whether startWithOwnPID can work on this OS: it
// needs Linux's ptrace and /proc; elsewhere workers that get LISTEN_FDS
// start through the exec shim.
const canStartWithOwnPID = false

func startWithOwnPID(*exec.Cmd, int) error { return errors.ErrUnsupported }

func pidWidth() int { return 0 }
