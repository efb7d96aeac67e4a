package listener

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// fromFD makes a Socket of the inherited descriptor sp.FD, which must be a
// listening stream socket or a datagram socket. On success the Go value
// holds a close-on-exec duplicate and sp.FD itself is closed. On error sp.FD
// is closed only if it was a socket (a descriptor that is not one was not
// ours to close).
func fromFD(sp Spec) (Socket, error) {
	typ, err := syscall.GetsockoptInt(sp.FD, syscall.SOL_SOCKET, syscall.SO_TYPE)
	if err != nil {
		return Socket{}, fmt.Errorf("not a socket: %w", err)
	}
	f := os.NewFile(uintptr(sp.FD), sp.Name)
	defer f.Close() // net.FileListener and net.FilePacketConn work on a dup
	s := Socket{Name: sp.Name, FD: sp.FD}
	switch typ {
	case syscall.SOCK_STREAM:
		listening, err := syscall.GetsockoptInt(sp.FD, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
		if err != nil {
			return Socket{}, fmt.Errorf("SO_ACCEPTCONN: %w", err)
		}
		if listening == 0 {
			return Socket{}, fmt.Errorf("stream socket is not listening")
		}
		if s.Listener, err = net.FileListener(f); err != nil {
			return Socket{}, err
		}
	case syscall.SOCK_DGRAM:
		if s.PacketConn, err = net.FilePacketConn(f); err != nil {
			return Socket{}, err
		}
	default:
		return Socket{}, fmt.Errorf("socket type %d is neither stream nor datagram", typ)
	}
	return s, nil
}

// closeOnExec marks fd close-on-exec if it is open; errors are ignored (the
// descriptor may not exist).
func closeOnExec(fd int) {
	if _, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TYPE); err == nil {
		syscall.CloseOnExec(fd)
	}
}
