package starter

import "golang.org/x/sys/unix"

// socketCloexec is socket(2) with the close-on-exec flag set atomically, so
// that no worker started concurrently inherits the socket by accident.
func socketCloexec(domain, typ, proto int) (int, error) {
	return unix.Socket(domain, typ|unix.SOCK_CLOEXEC, proto)
}
