//go:build !unix

package listener

import "errors"

// fromFD needs getsockopt(2); outside Unix (Windows, Plan 9, WebAssembly)
// there are no inherited sockets to find.
func fromFD(sp Spec) (Socket, error) {
	return Socket{}, errors.New("inherited sockets are supported on Unix systems only")
}

func closeOnExec(fd int) {}
