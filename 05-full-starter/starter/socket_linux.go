package starter

import "syscall"

// socketCloexec is socket(2) with the close-on-exec flag set atomically, so
// that no worker started concurrently inherits the socket by accident.
func socketCloexec(domain, typ, proto int) (int, error) {
	return syscall.Socket(domain, typ|syscall.SOCK_CLOEXEC, proto)
}
