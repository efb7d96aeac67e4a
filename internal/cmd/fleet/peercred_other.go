//go:build !linux

package main

import (
	"errors"
	"net"
)

// peerUID is Linux-only (SO_PEERCRED); the fleet needs Linux anyway.
func peerUID(conn *net.UnixConn) (uint32, error) {
	return 0, errors.New("peer credentials: Linux only")
}
