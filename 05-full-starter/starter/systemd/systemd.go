// Package systemd is what start_server does beyond Server::Starter to work
// with systemd: a reader of the supervisor can skip it.
//
//   - The starter's own socket activation (Activated): sockets systemd
//     passed to start_server itself.
//   - Upstream readiness (Upstream): READY=1, STATUS= and STOPPING=1 to the
//     starter's own NOTIFY_SOCKET under a Type=notify unit.
//   - The workers' readiness sockets (NotifySockets): how each worker's
//     NOTIFY_SOCKET is made private on each platform (abstract sockets with
//     SO_PASSCRED on Linux, a 0700 directory swept after a crash elsewhere).
//   - The exec shim (ShimCommand) behind --listen-fds: it sets LISTEN_PID to
//     the worker's own pid.
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

// Upstream tells the starter's own supervisor about the starter, with the
// sd_notify protocol, when the starter itself was started with
// NOTIFY_SOCKET (a systemd unit with Type=notify). A nil *Upstream sends
// nothing.
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
