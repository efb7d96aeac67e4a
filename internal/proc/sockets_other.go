//go:build !linux

package proc

import "errors"

// errNoProcFS is returned where the socket tables of /proc are not available.
var errNoProcFS = errors.New("needs Linux /proc")

// ListenInode needs Linux /proc; see sockets_linux.go.
func ListenInode(addr string) (uint64, error) { return 0, errNoProcFS }

// FDsOf needs Linux /proc; see sockets_linux.go.
func FDsOf(pid int, inode uint64) ([]int, error) { return nil, errNoProcFS }
