package starter

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"hotdeploy/05-full-starter/starter/systemd"
)

// socketSpec is one socket the starter holds for its workers: a --port, a
// --path, or a socket systemd passed to the starter.
type socketSpec struct {
	// key is the socket's name in SERVER_STARTER_PORT. For --port it is the
	// spec normalized the way Perl's start_server does it: "PORT",
	// "HOST:PORT" or "[V6]:PORT", with the "u" and the "=FD" suffix dropped
	// (measured: "127.0.0.1:u9000" has the key "127.0.0.1:9000"). For --path
	// it is the path as given.
	key     string
	given   string // the --port or --path value as given
	network string // "tcp", "udp" or "unix"
	host    string // "" for a bare port: every IPv4 address
	port    int
	path    string // network "unix"
	fd      int    // fd wanted in the worker ("=FD"), or -1: the starter picks
	name    string // LISTEN_FDNAMES entry
}

// maxWorkerFD bounds "=FD": a larger number is almost surely a typo.
const maxWorkerFD = 65535

// parsePortSpec parses a --port value: PORT, HOST:PORT or [V6]:PORT, with
// an optional "u" before the port (UDP) and an optional "=FD" suffix. An IPv6
// address without brackets is accepted as Perl does ("::1:8080" is ::1 port
// 8080). Port 0 asks the kernel for a free port; the key keeps the 0.
func parsePortSpec(spec string) (socketSpec, error) {
	bad := func(why string) (socketSpec, error) {
		return socketSpec{}, errors.New(why)
	}
	s := strings.TrimSpace(spec)
	out := socketSpec{given: spec, network: "tcp", fd: -1}
	if i := strings.LastIndexByte(s, '='); i >= 0 {
		fd, err := strconv.Atoi(strings.TrimSpace(s[i+1:]))
		if err != nil || fd < 0 || fd > maxWorkerFD {
			return bad(fmt.Sprintf("%q after '=' is not a file descriptor number (0-%d)", s[i+1:], maxWorkerFD))
		}
		out.fd = fd
		s = strings.TrimSpace(s[:i])
	}
	portPart := s
	hostGiven := false
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 || end+1 >= len(s) || s[end+1] != ':' {
			return bad("expected [IPV6]:PORT")
		}
		out.host, portPart, hostGiven = strings.TrimSpace(s[1:end]), s[end+2:], true
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		out.host, portPart, hostGiven = strings.TrimSpace(s[:i]), s[i+1:], true
	}
	portPart = strings.TrimSpace(portPart)
	if strings.HasPrefix(portPart, "u") {
		out.network = "udp"
		portPart = portPart[1:]
	}
	port, err := strconv.Atoi(portPart)
	if err != nil || port < 0 || port > 65535 || strings.ContainsAny(portPart, "+-") {
		return bad(fmt.Sprintf("port %q is not a number from 0 to 65535", portPart))
	}
	out.port = port
	switch {
	case !hostGiven:
		out.key = strconv.Itoa(port)
	case out.host == "":
		return bad("empty host before ':'")
	case strings.Contains(out.host, ":"):
		if ip := net.ParseIP(out.host); ip == nil || ip.To4() != nil {
			return bad(fmt.Sprintf("%q is not an IPv6 address", out.host))
		}
		out.key = "[" + out.host + "]:" + strconv.Itoa(port)
	default:
		out.key = out.host + ":" + strconv.Itoa(port)
	}
	out.name = fdName(out.key)
	return out, nil
}

// parsePathSpec checks a --path value. The key is the path as given.
func parsePathSpec(path string) (socketSpec, error) {
	if path == "" {
		return socketSpec{}, errors.New("empty path")
	}
	if strings.ContainsAny(path, ";=") {
		// SERVER_STARTER_PORT could not be parsed back by a worker.
		return socketSpec{}, errors.New("';' and '=' cannot appear in SERVER_STARTER_PORT")
	}
	return socketSpec{key: path, given: path, network: "unix", path: path, fd: -1, name: fdName(path)}, nil
}

// fdName makes a LISTEN_FDNAMES entry from a key: systemd separates names
// with ':', so every ':' becomes '_' ("127.0.0.1:8080" → "127.0.0.1_8080").
func fdName(key string) string { return strings.ReplaceAll(key, ":", "_") }

// boundSocket is a socket the starter has bound and holds open until it
// exits. file is close-on-exec in the starter; a worker gets it through
// exec.Cmd's ExtraFiles (or Stdin/Stdout/Stderr) on fd workerFD.
type boundSocket struct {
	spec     socketSpec
	file     *os.File
	addr     string      // the bound address, for logs ("127.0.0.1:41234", a path)
	unixInfo os.FileInfo // --path: the socket file we created, removed at exit if still ours
	workerFD int         // set by planFDs
}

// fdPlan says which fd each socket gets in a worker.
//
// Sockets with "=FD" get that fd; the others take the lowest free fds from
// 3 upward, in option order. With --listen-fds, listenFDs is N and names
// are the LISTEN_FDNAMES in fd order, if the sockets are on fds 3..3+N-1
// with no gap, as systemd's LISTEN_FDS needs (always so without "=FD");
// otherwise listenFDs is 0 and LISTEN_FDS is not set: a worker finds every
// socket through SERVER_STARTER_PORT.
type fdPlan struct {
	extra     []*os.File // exec.Cmd.ExtraFiles: entry i is fd 3+i (nil: closed)
	stdio     [3]*os.File
	listenFDs int
	names     []string
}

// planFDs assigns workerFD to every socket and returns the plan; listenFDs
// is Config.ListenFDs. No two sockets may ask for the same fd (validate
// checks that).
func planFDs(socks []*boundSocket, listenFDs bool) fdPlan {
	var p fdPlan
	used := map[int]string{}
	for _, s := range socks {
		if s.spec.fd < 0 {
			continue
		}
		used[s.spec.fd] = s.spec.key
		s.workerFD = s.spec.fd
	}
	next := 3
	for _, s := range socks {
		if s.spec.fd >= 0 {
			continue
		}
		for used[next] != "" {
			next++
		}
		used[next] = s.spec.key
		s.workerFD = next
	}
	maxFD := 2
	for _, s := range socks {
		maxFD = max(maxFD, s.workerFD)
	}
	if maxFD >= 3 {
		p.extra = make([]*os.File, maxFD-2)
	}
	for _, s := range socks {
		if s.workerFD < 3 {
			p.stdio[s.workerFD] = s.file
		} else {
			p.extra[s.workerFD-3] = s.file
		}
	}
	dense := listenFDs && len(socks) > 0 && maxFD == 2+len(socks) && p.stdio == [3]*os.File{}
	if dense {
		p.listenFDs = len(socks)
		p.names = make([]string, len(socks))
		for _, s := range socks {
			p.names[s.workerFD-3] = s.spec.name
		}
	}
	return p
}

// portVar formats SERVER_STARTER_PORT: "KEY=FD" entries joined by ';', in
// the order of socks (option order). No sockets: the empty string.
func portVar(socks []*boundSocket) string {
	parts := make([]string, len(socks))
	for i, s := range socks {
		parts[i] = s.spec.key + "=" + strconv.Itoa(s.workerFD)
	}
	return strings.Join(parts, ";")
}

// adoptActivated takes over the sockets systemd passed to the starter
// itself (systemd.Activated). Each is passed to every worker like a --port,
// after the --port and --path sockets. Its SERVER_STARTER_PORT key is its
// bound address in Perl's key format ("127.0.0.1:8080", "[::1]:8080", no
// "u" for UDP, as Perl drops it too, or the unix path), or "fdN" when it has
// none a worker could use; its LISTEN_FDNAMES name is the one systemd gave,
// or the fdName of the key. The caller owns the returned files.
func adoptActivated(getenv func(string) string, pid int) ([]*boundSocket, error) {
	activated, err := systemd.Activated(getenv, pid)
	if err != nil {
		return nil, err
	}
	out := make([]*boundSocket, len(activated))
	for i, a := range activated {
		fd := a.FD
		addr := sockAddrString(fd)
		spec := socketSpec{key: addr, network: "tcp", fd: -1, name: a.Name}
		if addr == "?" || addr == "@" || strings.ContainsAny(addr, ";=") {
			spec.key = "fd" + strconv.Itoa(fd)
		}
		if a.Type == unix.SOCK_DGRAM {
			spec.network = "udp"
		}
		if sa, _ := unix.Getsockname(fd); sa != nil {
			if _, isUnix := sa.(*unix.SockaddrUnix); isUnix {
				spec.network, spec.path = "unix", addr
			}
		}
		if spec.name == "" {
			spec.name = fdName(spec.key)
		}
		out[i] = &boundSocket{spec: spec, file: a.File, addr: addr}
	}
	return out, nil
}
