// Package systemd is what start_server does beyond Server::Starter to work
// with systemd; a first reading of the supervisor can skip it:
//
//   - Activated: sockets systemd passed to start_server itself;
//   - Upstream: READY=1, STATUS=, STOPPING=1 to start_server's own
//     NOTIFY_SOCKET (a Type=notify unit);
//   - NotifySockets: each worker's NOTIFY_SOCKET made private (abstract
//     sockets and SO_PASSCRED on Linux, a 0700 directory elsewhere);
//   - the exec shim behind --listen-fds (shim.go).
package systemd

import (
	"net"
	"strings"
)

// The variables of systemd's protocols (sd_listen_fds(3), sd_notify(3)).
const (
	EnvListenFDs     = "LISTEN_FDS"
	EnvListenPID     = "LISTEN_PID"
	EnvListenFDNames = "LISTEN_FDNAMES"
	EnvNotifySocket  = "NOTIFY_SOCKET"
	// ListenFDsStart is the first fd of socket activation.
	ListenFDsStart = 3
)

// Upstream is the starter's own NOTIFY_SOCKET, if it has one. A nil
// *Upstream sends nothing.
type Upstream struct{ addr *net.UnixAddr }

// NewUpstream returns nil if socket (the starter's NOTIFY_SOCKET) is empty.
// A leading '@' names an abstract socket.
func NewUpstream(socket string) *Upstream {
	if socket == "" {
		return nil
	}
	if strings.HasPrefix(socket, "@") {
		socket = "\x00" + socket[1:]
	}
	return &Upstream{addr: &net.UnixAddr{Name: socket, Net: "unixgram"}}
}

// Send sends one datagram; it does not block beyond the send and ignores
// errors (systemd may be gone; serving matters more).
func (u *Upstream) Send(msg string) {
	if u == nil {
		return
	}
	c, err := net.DialUnix("unixgram", nil, u.addr)
	if err != nil {
		return
	}
	defer c.Close()
	c.Write([]byte(msg))
}
