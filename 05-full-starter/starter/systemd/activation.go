package systemd

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ActivatedSocket is a socket systemd passed to the starter itself.
type ActivatedSocket struct {
	FD   int      // its fd, ListenFDsStart and up
	File *os.File // the same fd, close-on-exec; owned by the caller
	Type int      // unix.SOCK_STREAM or unix.SOCK_DGRAM
	Name string   // its LISTEN_FDNAMES entry ("" if none)
}

// Activated takes over the sockets systemd (or systemd-socket-activate)
// passed to the starter: fds 3..3+LISTEN_FDS-1, when LISTEN_PID is pid.
// Without those variables, or when LISTEN_PID names another process, it
// returns nothing. The fds are made close-on-exec: workers get them only as
// the starter passes its sockets. It does not block.
func Activated(getenv func(string) string, pid int) ([]ActivatedSocket, error) {
	if getenv(EnvListenPID) != strconv.Itoa(pid) || getenv(EnvListenFDs) == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(getenv(EnvListenFDs))
	if err != nil || n < 0 {
		return nil, fmt.Errorf("socket activation: invalid LISTEN_FDS=%q", getenv(EnvListenFDs))
	}
	var names []string
	if v := getenv(EnvListenFDNames); v != "" {
		names = strings.Split(v, ":")
	}
	out := make([]ActivatedSocket, n)
	for i := range out {
		fd := ListenFDsStart + i
		typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
		if err != nil {
			return nil, fmt.Errorf("socket activation: fd %d is not a socket: %w", fd, err)
		}
		unix.CloseOnExec(fd)
		out[i] = ActivatedSocket{FD: fd, File: os.NewFile(uintptr(fd), "activated:fd"+strconv.Itoa(fd)), Type: typ}
		if i < len(names) {
			out[i].Name = names[i]
		}
	}
	return out, nil
}
