package proc

import (
	"net"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestListenInodeAndFDs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	inode, err := ListenInode(ln.Addr().String())
	require.NoError(t, err)
	fds, err := FDsOf(os.Getpid(), inode)
	require.NoError(t, err)
	assert.Len(t, fds, 1, "this process holds the socket once")

	socks, err := Listening()
	require.NoError(t, err)
	assert.Contains(t, socks, ListenSocket{Addr: ln.Addr().String(), Port: ln.Addr().(*net.TCPAddr).Port, Inode: inode})

	ln.Close()
	_, err = ListenInode(ln.Addr().String())
	assert.Error(t, err, "closed: nothing listens there")
}

func TestDecodeProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"00000000000000000000000001000000:0050": "[::1]:80",
	} {
		got, _, err := decodeProcAddr(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
	for _, bad := range []string{"", "0100007F", "zz:1F90", "0100007F:zz"} {
		_, _, err := decodeProcAddr(bad)
		assert.Error(t, err, bad)
	}
}
