package systemd

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// NewNotifySockets returns the notify sockets of this starter: abstract
// sockets named @start_server-PID-RANDOM/NAME. logf is not used on Linux.
func NewNotifySockets(logf func(string, ...any)) (*NotifySockets, error) {
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, fmt.Errorf("notify socket name: %w", err)
	}
	return &NotifySockets{abstract: fmt.Sprintf("@%s%d-%s", notifyDirPrefix, os.Getpid(), hex.EncodeToString(r[:]))}, nil
}

// passCredentials makes the kernel attach the sender's credentials
// (SCM_CREDENTIALS) to every datagram conn receives.
func passCredentials(conn *net.UnixConn) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("setsockopt SO_PASSCRED: %w", serr)
	}
	return nil
}

// Allowed reports whether a datagram whose control messages are oob
// comes from the starter's own user or root; who describes the sender for
// a log line. Without credentials the answer is no.
func Allowed(oob []byte) (ok bool, who string) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return false, "a sender without credentials"
	}
	for i := range msgs {
		cred, err := unix.ParseUnixCredentials(&msgs[i])
		if err != nil {
			continue
		}
		who = fmt.Sprintf("pid %d (uid %d)", cred.Pid, cred.Uid)
		return cred.Uid == uint32(os.Geteuid()) || cred.Uid == 0, who
	}
	return false, "a sender without credentials"
}
