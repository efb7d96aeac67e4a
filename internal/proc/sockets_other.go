//go:build !linux

package proc

// A ListenSocket is a TCP socket in LISTEN state; see sockets_linux.go.
type ListenSocket struct {
	Addr  string
	Port  int
	Inode uint64
}

// Listening needs Linux /proc; see sockets_linux.go.
func Listening() ([]ListenSocket, error) { return nil, errNoProcFS }

// ListenInode needs Linux /proc; see sockets_linux.go.
func ListenInode(addr string) (uint64, error) { return 0, errNoProcFS }

// SocketFDs needs Linux /proc; see sockets_linux.go.
func SocketFDs(pid int) (map[uint64][]int, error) { return nil, errNoProcFS }

// FDsOf needs Linux /proc; see sockets_linux.go.
func FDsOf(pid int, inode uint64) ([]int, error) { return nil, errNoProcFS }
