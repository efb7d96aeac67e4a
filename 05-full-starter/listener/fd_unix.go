//go:build unix

package listener

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// fromFD makes a Socket of the inherited descriptor sp.FD, which must be a
// listening stream socket or a datagram socket. On success the Go value
// holds a close-on-exec duplicate and sp.FD itself is closed. On error sp.FD
// is closed only if it was a socket (a descriptor that is not one was not
// ours to close).
//
// It asks the kernel what the descriptor is with getsockopt: SO_TYPE
// (stream or datagram) and, for a stream socket, SO_ACCEPTCONN (listening
// or not). Both exist on every Unix Go supports — Linux, macOS, the BSDs,
// illumos — so this one file serves them all, and the tests that run on
// Linux exercise the same code a Mac runs.
func fromFD(sp Spec) (Socket, error) {
	typ, err := unix.GetsockoptInt(sp.FD, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return Socket{}, fmt.Errorf("not a socket: %w", err)
	}
	f := os.NewFile(uintptr(sp.FD), sp.Name)
	defer f.Close() // net.FileListener and net.FilePacketConn work on a dup
	s := Socket{Name: sp.Name, FD: sp.FD}
	switch typ {
	case unix.SOCK_STREAM:
		// Linux answers 1, macOS and the BSDs the flag's value (2).
		listening, err := unix.GetsockoptInt(sp.FD, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
		if err != nil {
			return Socket{}, fmt.Errorf("SO_ACCEPTCONN: %w", err)
		}
		if listening == 0 {
			return Socket{}, fmt.Errorf("stream socket is not listening")
		}
		if s.Listener, err = net.FileListener(f); err != nil {
			return Socket{}, err
		}
	case unix.SOCK_DGRAM:
		if s.PacketConn, err = net.FilePacketConn(f); err != nil {
			return Socket{}, err
		}
	default:
		return Socket{}, fmt.Errorf("socket type %d is neither stream nor datagram", typ)
	}
	return s, nil
}

// closeOnExec marks fd close-on-exec if it is an open socket; errors are
// ignored (the descriptor may not exist).
func closeOnExec(fd int) {
	if _, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err == nil {
		unix.CloseOnExec(fd)
	}
}
