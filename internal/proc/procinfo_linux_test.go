package proc

import (
	"net"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestListenAddrsFindsOwnListeners(t *testing.T) {
	v4, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer v4.Close()
	addrs, err := ListenAddrs(os.Getpid())
	require.NoError(t, err)
	assert.Contains(t, addrs, v4.Addr().String())

	if v6, err := net.Listen("tcp", "[::1]:0"); err == nil {
		defer v6.Close()
		addrs, err := ListenAddrs(os.Getpid())
		require.NoError(t, err)
		assert.Contains(t, addrs, v6.Addr().String())
	}

	// A connected (not listening) socket is not listed.
	c, err := net.Dial("tcp", v4.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	addrs, err = ListenAddrs(os.Getpid())
	require.NoError(t, err)
	assert.NotContains(t, addrs, c.LocalAddr().String())
}

func TestRSSAndCPUAndExited(t *testing.T) {
	rss, err := RSS(os.Getpid())
	require.NoError(t, err)
	assert.Greater(t, rss, 100, "a Go test binary uses more than 100 KiB")
	_, err = CPUTicks(os.Getpid())
	require.NoError(t, err)
	assert.False(t, Exited(os.Getpid()))

	cmd := exec.Command("true")
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	require.NoError(t, cmd.Wait())
	assert.True(t, Exited(pid), "a reaped child is gone")
}
