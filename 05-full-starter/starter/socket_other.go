//go:build !linux

package starter

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// socketCloexec is socket(2) followed by setting close-on-exec, under
// syscall.ForkLock so that no concurrent fork sees the fd without the flag
// (SOCK_CLOEXEC does not exist everywhere).
func socketCloexec(domain, typ, proto int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd, err := unix.Socket(domain, typ, proto)
	if err != nil {
		return -1, err
	}
	unix.CloseOnExec(fd)
	return fd, nil
}
