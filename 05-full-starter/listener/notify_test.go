package listener

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recvNotify reads one datagram from the supervisor's side of NOTIFY_SOCKET.
func recvNotify(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	require.NoError(t, err)
	return string(buf[:n])
}

func TestNotify(t *testing.T) {
	for kind, name := range map[string]string{
		"path":     filepath.Join(t.TempDir(), "notify"),
		"abstract": fmt.Sprintf("@hotdeploy-listener-test-%d-%d", os.Getpid(), time.Now().UnixNano()),
	} {
		t.Run(kind, func(t *testing.T) {
			sup, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
			require.NoError(t, err)
			defer sup.Close()
			t.Setenv(envNotifySocket, name)

			require.NoError(t, Ready())
			assert.Equal(t, "READY=1", recvNotify(t, sup))
			require.NoError(t, Status("serving\n2 listeners"))
			assert.Equal(t, "STATUS=serving 2 listeners", recvNotify(t, sup))
			require.NoError(t, Stopping())
			assert.Equal(t, "STOPPING=1", recvNotify(t, sup))
			assert.Equal(t, name, os.Getenv(envNotifySocket), "left set for later notifications")
		})
	}
}

func TestNotifyUnsetIsNoop(t *testing.T) {
	require.NoError(t, notify(fakeEnv{}.env(1), "READY=1"))
	require.NoError(t, notify(fakeEnv{envNotifySocket: ""}.env(1), "READY=1"))
}

func TestNotifyErrors(t *testing.T) {
	err := notify(fakeEnv{envNotifySocket: "relative"}.env(1), "READY=1")
	require.ErrorContains(t, err, `NOTIFY_SOCKET "relative"`)
	missing := filepath.Join(t.TempDir(), "nobody")
	err = notify(fakeEnv{envNotifySocket: missing}.env(1), "READY=1")
	require.ErrorContains(t, err, "notify "+missing)
}
