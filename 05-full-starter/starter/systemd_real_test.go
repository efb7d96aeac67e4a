package starter

// Real-process tests of what package systemd adds: socket activation into
// the starter, upstream readiness.

import (
	"encoding/json"
	"fmt"
	"hotdeploy/internal/proc"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Socket activation into the starter: systemd-socket-activate passes a
// unix socket; the starter adopts it, its key is its path, its name stays
// (passed on with --listen-fds).
func TestRealSocketActivation(t *testing.T) {
	t.Parallel()
	ssa, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Skip("systemd-socket-activate not installed")
	}
	path := filepath.Join(t.TempDir(), "act.sock")
	b, err := json.Marshal(Config{Command: workerCmd("-dump"), Interval: 100 * time.Millisecond, ListenFDs: true})
	require.NoError(t, err)
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(ssa, "-l", path, "--fdname=web", "-E", configEnv+"="+string(b), exe)
	pp, err := proc.StartCmd(cmd)
	require.NoError(t, err)
	proc.Track(t, pp)
	p := &starterProc{pp, t}
	// Not the socket file: it exists after bind, before listen (a connect
	// then is refused). systemd-socket-activate says this once it listens.
	p.waitLine(`^Listening on %s as 3\.$`, regexp.QuoteMeta(path))
	// systemd-socket-activate runs the starter at the first connection.
	pid := get(t, "unix", path)
	d := p.dumpOf(pid)
	assert.Equal(t, path+"=3", d.env["SERVER_STARTER_PORT"])
	assert.Equal(t, "web", d.env["LISTEN_FDNAMES"])
	assert.Equal(t, "1", d.env["LISTEN_FDS"])
	assert.Equal(t, strconv.Itoa(pid), d.env["LISTEN_PID"])
	assert.Equal(t, []string{"0", "1", "2", "3"}, fdNumbers(d.fds))
	p.stop()
}

// The starter under systemd Type=notify: READY=1 to its own NOTIFY_SOCKET
// once a worker runs, STOPPING=1 at shutdown; workers get their own socket.
func TestRealUpstreamNotify(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	require.NoError(t, err)
	defer conn.Close()
	p := startStarterEnv(t, Config{Command: workerCmd("-dump", "-notify"), Interval: 10 * time.Second},
		[]string{"NOTIFY_SOCKET=" + path})
	read := func() string {
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		buf := make([]byte, 4096)
		n, err := conn.Read(buf)
		require.NoError(t, err)
		return string(buf[:n])
	}
	m := p.waitLine(`^starting new worker (\d+)$`)
	assert.Equal(t, fmt.Sprintf("READY=1\nSTATUS=generation 1 (pid %s) running", m[1]), read())
	pid, _ := strconv.Atoi(m[1])
	assert.NotEqual(t, path, p.dumpOf(pid).env["NOTIFY_SOCKET"], "the worker has its own")
	p.SignalT(t, syscall.SIGTERM)
	assert.Equal(t, "STOPPING=1", read())
	p.waitLine(`^exiting$`)
}
