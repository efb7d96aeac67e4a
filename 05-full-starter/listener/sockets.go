package listener

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// Source says where a Socket came from.
type Source string

// The sources of sockets, in the order Sockets looks for them.
const (
	FromServerStarter Source = "server-starter" // SERVER_STARTER_PORT
	FromSystemd       Source = "systemd"        // LISTEN_FDS for this PID
	FromFallback      Source = "fallback"       // bound here, from an address the caller gave
)

// Socket is one listening socket of this worker. Exactly one of Listener
// (TCP and unix stream sockets) and PacketConn (UDP and other datagram
// sockets) is set. The caller owns both and must close them.
type Socket struct {
	Name       string // Spec.Name, or the fallback address as given
	FD         int    // the inherited descriptor number (now closed: see Sockets); -1 if bound here
	From       Source
	Listener   net.Listener
	PacketConn net.PacketConn
}

// Close closes the socket's listener or packet connection.
func (s Socket) Close() error {
	if s.Listener != nil {
		return s.Listener.Close()
	}
	if s.PacketConn != nil {
		return s.PacketConn.Close()
	}
	return nil
}

// Sockets returns this worker's listening sockets, in the order the starter
// listed them:
//
//  1. If SERVER_STARTER_PORT is set, the sockets it names. Set but empty
//     (a starter run without --port) means no sockets: the result is empty
//     and the fallback addresses are not bound.
//  2. Else, if LISTEN_PID is this process's PID, the LISTEN_FDS sockets
//     (fds 3, 4, ...), named by LISTEN_FDNAMES.
//  3. Else, each fallback address is bound here: "host:port" as TCP, and
//     anything containing a "/" as a unix socket path (for running the
//     program on its own).
//
// Each inherited descriptor is turned into a Go listener on a new,
// close-on-exec descriptor and the inherited one is closed, so children this
// worker starts do not get the sockets. For the same reason Sockets unsets
// SERVER_STARTER_PORT, LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES, whether it
// succeeds or not: call it once. (SERVER_STARTER_GENERATION and
// NOTIFY_SOCKET are left alone.)
//
// Sockets does not block. On error, the sockets it had already opened are
// closed.
func Sockets(fallbackAddrs ...string) ([]Socket, error) {
	return sockets(realEnv, fallbackAddrs)
}

// Listeners is Sockets for programs that serve stream sockets only: it
// returns the listeners and closes any datagram socket it was given (a UDP
// port of the starter, say). Ownership of the listeners passes to the caller
// (or to Serve).
func Listeners(fallbackAddrs ...string) ([]net.Listener, error) {
	socks, err := Sockets(fallbackAddrs...)
	if err != nil {
		return nil, err
	}
	return StreamListeners(socks, nil), nil
}

// StreamListeners returns the listeners of socks, in order, and closes the
// datagram sockets among them, after passing each to dropped (if not nil),
// for a program that wants to say what it ignored. Ownership of the
// listeners stays with the caller.
func StreamListeners(socks []Socket, dropped func(Socket)) []net.Listener {
	var lns []net.Listener
	for _, s := range socks {
		if s.Listener == nil {
			if dropped != nil {
				dropped(s)
			}
			s.Close()
			continue
		}
		lns = append(lns, s.Listener)
	}
	return lns
}

// sockets is Sockets with the environment passed in.
func sockets(env osEnv, fallbackAddrs []string) ([]Socket, error) {
	ssPort, underStarter := env.lookup(envServerStarterPort)
	fds, _ := env.lookup(envListenFDs)
	pid, _ := env.lookup(envListenPID)
	names, _ := env.lookup(envListenFDNames)
	for _, k := range []string{envServerStarterPort, envListenFDs, envListenPID, envListenFDNames} {
		_ = env.unset(k)
	}

	sdSpecs, sdErr := parseListenFDs(fds, pid, names, env.getpid())
	if underStarter {
		specs, err := ParseServerStarterPort(ssPort)
		if err != nil {
			return nil, fmt.Errorf("listener: %w", err)
		}
		// systemd's sockets, if any are ours too, are not used: keep them
		// from leaking into our children.
		for _, sp := range sdSpecs {
			closeOnExec(sp.FD)
		}
		return fromSpecs(specs, FromServerStarter)
	}
	if sdErr != nil {
		return nil, fmt.Errorf("listener: %w", sdErr)
	}
	if len(sdSpecs) > 0 {
		return fromSpecs(sdSpecs, FromSystemd)
	}
	if len(fallbackAddrs) == 0 {
		return nil, errors.New("listener: no sockets: SERVER_STARTER_PORT and LISTEN_FDS are not set and no address was given")
	}
	return bind(fallbackAddrs)
}

// fromSpecs turns inherited descriptors into sockets.
func fromSpecs(specs []Spec, from Source) ([]Socket, error) {
	var socks []Socket
	for _, sp := range specs {
		s, err := fromFD(sp)
		if err != nil {
			closeAll(socks)
			return nil, fmt.Errorf("listener: %s socket %q on fd %d: %w", from, sp.Name, sp.FD, err)
		}
		s.From = from
		socks = append(socks, s)
	}
	return socks, nil
}

// bind listens on each address: TCP, or unix if it contains a "/".
func bind(addrs []string) ([]Socket, error) {
	var socks []Socket
	for _, addr := range addrs {
		network := "tcp"
		if strings.Contains(addr, "/") {
			network = "unix"
		}
		ln, err := net.Listen(network, addr)
		if err != nil {
			closeAll(socks)
			return nil, fmt.Errorf("listener: bind %q: %w", addr, err)
		}
		socks = append(socks, Socket{Name: addr, FD: -1, From: FromFallback, Listener: ln})
	}
	return socks, nil
}

func closeAll(socks []Socket) {
	for _, s := range socks {
		s.Close()
	}
}
