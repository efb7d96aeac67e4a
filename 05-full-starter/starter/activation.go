package starter

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The systemd socket-activation variables (sd_listen_fds(3)).
const (
	envListenFDs     = "LISTEN_FDS"
	envListenPID     = "LISTEN_PID"
	envListenFDNames = "LISTEN_FDNAMES"
	listenFDsStart   = 3
)

// adoptActivated takes over the sockets systemd (or systemd-socket-activate)
// passed to the starter itself: fds 3..3+LISTEN_FDS-1, when LISTEN_PID is
// the starter's pid. Without those variables, or when LISTEN_PID names
// another process, it returns nothing.
//
// An adopted socket is passed to every worker like a --port, after the
// --port and --path sockets. Its SERVER_STARTER_PORT key is its bound
// address as getsockname reports it, in Perl's key format: "127.0.0.1:8080",
// "[::1]:8080" (no "u" for UDP, as Perl drops it too) or the unix path; so a
// Server::Starter worker that looks for its port finds it. Its
// LISTEN_FDNAMES name is the one systemd gave (FileDescriptorName=,
// --fdname), or the fdName of the key if there was none.
//
// The adopted fds are made close-on-exec; workers get them only through the
// fd plan. The caller owns the returned files.
func adoptActivated(getenv func(string) string, pid int) ([]*boundSocket, error) {
	if getenv(envListenPID) != strconv.Itoa(pid) || getenv(envListenFDs) == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(getenv(envListenFDs))
	if err != nil || n < 0 {
		return nil, fmt.Errorf("socket activation: invalid LISTEN_FDS=%q", getenv(envListenFDs))
	}
	var names []string
	if v := getenv(envListenFDNames); v != "" {
		names = strings.Split(v, ":")
	}
	var out []*boundSocket
	for i := range n {
		fd := listenFDsStart + i
		typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
		if err != nil {
			return nil, fmt.Errorf("socket activation: fd %d is not a socket: %w", fd, err)
		}
		unix.CloseOnExec(fd)
		addr := sockAddrString(fd)
		spec := socketSpec{key: activatedKey(fd, addr), network: "tcp", fd: -1}
		if typ == unix.SOCK_DGRAM {
			spec.network = "udp"
		}
		if sa, _ := unix.Getsockname(fd); sa != nil {
			if _, unix := sa.(*unix.SockaddrUnix); unix {
				spec.network, spec.path = "unix", addr
			}
		}
		spec.name = fdName(spec.key)
		if i < len(names) && names[i] != "" {
			spec.name = names[i]
		}
		out = append(out, &boundSocket{spec: spec, file: os.NewFile(uintptr(fd), "activated:"+addr), addr: addr})
	}
	return out, nil
}

// activatedKey is the SERVER_STARTER_PORT key of an activated socket: its
// address, or "fdN" when it has none that a worker could use.
func activatedKey(fd int, addr string) string {
	if addr == "?" || addr == "@" || strings.ContainsAny(addr, ";=") {
		return "fd" + strconv.Itoa(fd)
	}
	return addr
}
