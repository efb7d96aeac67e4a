package starter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// defaultBacklog is the listen(2) backlog when --backlog is not given: the
// system's maximum (the kernel caps any larger value to it anyway).
func defaultBacklog() int {
	if b, err := os.ReadFile("/proc/sys/net/core/somaxconn"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 {
			return n
		}
	}
	return unix.SOMAXCONN
}

// bindInet creates, binds and (for TCP) listens on the socket of a --port
// spec, with SO_REUSEADDR, and IPV6_V6ONLY for IPv6 so that [::]:80 and
// 0.0.0.0:80 are separate sockets, as in Perl. A host name is resolved to its
// first IPv4 address (Perl uses gethostbyname). The returned file is
// close-on-exec and owned by the caller.
func bindInet(spec socketSpec, backlog int) (*boundSocket, error) {
	ip, err := resolveHost(spec.host)
	if err != nil {
		return nil, err
	}
	domain := unix.AF_INET
	var sa unix.Sockaddr
	if ip4 := ip.To4(); ip4 != nil {
		a := &unix.SockaddrInet4{Port: spec.port}
		copy(a.Addr[:], ip4)
		sa = a
	} else {
		domain = unix.AF_INET6
		a := &unix.SockaddrInet6{Port: spec.port}
		copy(a.Addr[:], ip.To16())
		sa = a
	}
	typ := unix.SOCK_STREAM
	if spec.network == "udp" {
		typ = unix.SOCK_DGRAM
	}
	fd, err := socketCloexec(domain, typ, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return nil, fmt.Errorf("setsockopt SO_REUSEADDR: %w", err)
	}
	if domain == unix.AF_INET6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return nil, fmt.Errorf("setsockopt IPV6_V6ONLY: %w", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return nil, fmt.Errorf("bind: %w", err)
	}
	if typ == unix.SOCK_STREAM {
		if err := unix.Listen(fd, backlog); err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
	}
	addr := sockAddrString(fd)
	ok = true
	return &boundSocket{spec: spec, file: os.NewFile(uintptr(fd), spec.network+":"+addr), addr: addr}, nil
}

// resolveHost turns the host of a --port spec into an address: "" is
// 0.0.0.0, an IP literal is itself, a name is looked up (IPv4 only).
func resolveHost(host string) (net.IP, error) {
	if host == "" {
		return net.IPv4zero, nil
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip4", host)
	if err != nil {
		return nil, fmt.Errorf("resolve host %q: %w", host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("resolve host %q: no IPv4 address", host)
	}
	return ips[0], nil
}

// sockAddrString is the local address of socket fd as text: "1.2.3.4:80",
// "[::1]:80", a unix path, or "?" if getsockname fails.
func sockAddrString(fd int) string {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return "?"
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *unix.SockaddrUnix:
		if a.Name == "" {
			return "@"
		}
		return a.Name
	}
	return "?"
}

// errInUse is wrapped by bindUnix when a server already answers on the path.
var errInUse = errors.New("a server is already listening on it")

// socketAnswers reports whether a server accepts connections on the unix
// socket at path (it waits at most a second).
func socketAnswers(path string) bool {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// defaultPathMode is the mode of --path sockets when Config.PathMode is 0:
// only the starter's user may connect (Perl's are world-writable).
const defaultPathMode os.FileMode = 0o600

// bindUnix creates the unix stream socket of a --path and listens on it.
//
// What is at the path already decides: nothing — fine; a socket nobody
// answers on (left by a crashed server) — removed, with a warning through
// warnf; a socket a server answers on — refused (errInUse); anything else, a
// regular file above all — refused with an error, and never deleted.
//
// The socket is created while the process umask is 0077, so it is never
// reachable by others, not even for a moment; then it gets mode (0600 if
// zero). The umask is process-wide: bindUnix must not run while other
// goroutines create files (Run binds before it starts anything else).
func bindUnix(spec socketSpec, backlog int, mode os.FileMode, warnf func(string, ...any)) (*boundSocket, error) {
	path := spec.path
	mode = cmp.Or(mode, defaultPathMode)
	stale, err := checkPath(path)
	if err != nil {
		return nil, err
	}
	if stale {
		warnf("removing existing socket file:%s", path)
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	fd, err := socketCloexec(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	old := unix.Umask(0o077)
	err = unix.Bind(fd, &unix.SockaddrUnix{Name: path})
	unix.Umask(old)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind: %w", err)
	}
	info, err := os.Lstat(path)
	if err == nil {
		err = os.Chmod(path, mode)
	}
	if err == nil {
		err = unix.Listen(fd, backlog)
	}
	if err != nil {
		unix.Close(fd)
		os.Remove(path)
		return nil, err
	}
	return &boundSocket{spec: spec, file: os.NewFile(uintptr(fd), "unix:"+path), addr: path, unixInfo: info}, nil
}

// removeUnixSocket removes the socket file of a --path at exit, but only if
// the file at the path is still the one bindUnix created (not one another
// program put there since).
func removeUnixSocket(s *boundSocket) {
	if s.unixInfo == nil {
		return
	}
	// Inode numbers are reused quickly; the creation time tells apart a new
	// socket that got the same inode.
	if fi, err := os.Lstat(s.spec.path); err == nil && os.SameFile(fi, s.unixInfo) && fi.ModTime().Equal(s.unixInfo.ModTime()) {
		os.Remove(s.spec.path)
	}
}
