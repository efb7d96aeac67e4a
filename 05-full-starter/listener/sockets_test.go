package listener

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeEnv is an environment for sockets and notify; it records unsets.
type fakeEnv map[string]string

func (f fakeEnv) env(pid int) osEnv {
	return osEnv{
		lookup: func(k string) (string, bool) { v, ok := f[k]; return v, ok },
		unset:  func(k string) error { delete(f, k); return nil },
		getpid: func() int { return pid },
	}
}

// inherit duplicates c's descriptor, as if a starter had passed the socket
// down, and returns the new number. sockets() takes ownership of it.
func inherit(t *testing.T, c syscall.Conn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	require.NoError(t, err)
	var fd int
	var dupErr error
	require.NoError(t, rc.Control(func(orig uintptr) {
		fd, dupErr = syscall.Dup(int(orig))
	}))
	require.NoError(t, dupErr)
	syscall.CloseOnExec(fd)
	return fd
}

// openCopies counts this process's descriptors that refer to the same
// socket as c (by inode, from /proc/self/fd).
func openCopies(t *testing.T, c syscall.Conn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	require.NoError(t, err)
	var st syscall.Stat_t
	require.NoError(t, rc.Control(func(fd uintptr) { require.NoError(t, syscall.Fstat(int(fd), &st)) }))
	want := fmt.Sprintf("socket:[%d]", st.Ino)
	entries, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	n := 0
	for _, e := range entries {
		if link, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && link == want {
			n++
		}
	}
	return n
}

func TestSocketsServerStarter(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer tcp.Close()
	path := filepath.Join(t.TempDir(), "w.sock")
	unix, err := net.Listen("unix", path)
	require.NoError(t, err)
	defer unix.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer udp.Close()

	tcpKey := tcp.Addr().String()
	udpKey := "127.0.0.1:u" + strconv.Itoa(udp.LocalAddr().(*net.UDPAddr).Port)
	fds := []int{inherit(t, tcp.(*net.TCPListener)), inherit(t, unix.(*net.UnixListener)), inherit(t, udp.(*net.UDPConn))}
	env := fakeEnv{
		envServerStarterPort: fmt.Sprintf("%s=%d;%s=%d;%s=%d", tcpKey, fds[0], path, fds[1], udpKey, fds[2]),
		envListenFDs:         "1", envListenPID: "1", envListenFDNames: "x",
	}

	socks, err := sockets(env.env(os.Getpid()), []string{"127.0.0.1:0"})
	require.NoError(t, err)
	defer closeAll(socks)
	assert.Empty(t, env, "every variable of the protocols is unset")
	require.Len(t, socks, 3)
	for i, name := range []string{tcpKey, path, udpKey} {
		assert.Equal(t, name, socks[i].Name)
		assert.Equal(t, fds[i], socks[i].FD)
		assert.Equal(t, FromServerStarter, socks[i].From)
	}
	require.NotNil(t, socks[0].Listener)
	require.NotNil(t, socks[1].Listener)
	require.NotNil(t, socks[2].PacketConn)
	assert.Nil(t, socks[2].Listener)
	assert.Equal(t, tcp.Addr().String(), socks[0].Listener.Addr().String())
	assert.Equal(t, path, socks[1].Listener.Addr().String())
	assert.Equal(t, udp.LocalAddr().String(), socks[2].PacketConn.LocalAddr().String())

	// The inherited descriptors were closed: the test's socket and the
	// returned one are the only copies left.
	assert.Equal(t, 2, openCopies(t, tcp.(*net.TCPListener)))
	assert.Equal(t, 2, openCopies(t, unix.(*net.UnixListener)))
	assert.Equal(t, 2, openCopies(t, udp.(*net.UDPConn)))

	// The returned listener accepts from the same kernel queue.
	c, err := net.Dial("tcp", tcpKey)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, socks[0].Listener.(*net.TCPListener).SetDeadline(time.Now().Add(10*time.Second)))
	a, err := socks[0].Listener.Accept()
	require.NoError(t, err)
	a.Close()
}

func TestListenersDropsDatagramSockets(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer tcp.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer udp.Close()
	t.Setenv(envServerStarterPort, fmt.Sprintf("8080=%d;u9000=%d",
		inherit(t, tcp.(*net.TCPListener)), inherit(t, udp.(*net.UDPConn))))

	lns, err := Listeners("127.0.0.1:0")
	require.NoError(t, err)
	require.Len(t, lns, 1)
	defer lns[0].Close()
	assert.Equal(t, tcp.Addr().String(), lns[0].Addr().String())
	assert.Equal(t, 1, openCopies(t, udp.(*net.UDPConn)), "the UDP socket was closed")
	_, set := os.LookupEnv(envServerStarterPort)
	assert.False(t, set, "SERVER_STARTER_PORT is unset for our children")
}

func TestSocketsEmptyServerStarterPort(t *testing.T) {
	// start_server without --port sets the variable to "": no sockets, and
	// the fallback is not bound either (we are under a starter).
	env := fakeEnv{envServerStarterPort: ""}
	socks, err := sockets(env.env(os.Getpid()), []string{"127.0.0.1:0"})
	require.NoError(t, err)
	assert.Empty(t, socks)
}

func TestSocketsFallback(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.sock")
	// LISTEN_* for another process are ignored.
	env := fakeEnv{envListenFDs: "1", envListenPID: strconv.Itoa(os.Getpid() + 1)}
	socks, err := sockets(env.env(os.Getpid()), []string{"127.0.0.1:0", path})
	require.NoError(t, err)
	defer closeAll(socks)
	assert.Empty(t, env)
	require.Len(t, socks, 2)
	assert.Equal(t, Socket{Name: "127.0.0.1:0", FD: -1, From: FromFallback, Listener: socks[0].Listener}, socks[0])
	assert.Equal(t, "tcp", socks[0].Listener.Addr().Network())
	assert.Equal(t, path, socks[1].Listener.Addr().String())
	c, err := net.Dial("tcp", socks[0].Listener.Addr().String())
	require.NoError(t, err)
	c.Close()
}

func TestSocketsErrors(t *testing.T) {
	self := os.Getpid()

	t.Run("no fallback", func(t *testing.T) {
		_, err := sockets(fakeEnv{}.env(self), nil)
		require.ErrorContains(t, err, "no sockets: SERVER_STARTER_PORT and LISTEN_FDS are not set")
	})
	t.Run("bad variable", func(t *testing.T) {
		env := fakeEnv{envServerStarterPort: "8080=4;8081", envListenFDs: "1", envListenPID: "1"}
		_, err := sockets(env.env(self), []string{"127.0.0.1:0"})
		require.ErrorContains(t, err, `listener: SERVER_STARTER_PORT entry "8081": want KEY=FD`)
		assert.Empty(t, env, "unset even on error")
	})
	t.Run("bad systemd names", func(t *testing.T) {
		env := fakeEnv{envListenFDs: "2", envListenPID: strconv.Itoa(self), envListenFDNames: "a"}
		_, err := sockets(env.env(self), []string{"127.0.0.1:0"})
		require.ErrorContains(t, err, "LISTEN_FDNAMES")
	})
	t.Run("fd not open", func(t *testing.T) {
		env := fakeEnv{envServerStarterPort: "127.0.0.1:1=100000"}
		_, err := sockets(env.env(self), nil)
		require.ErrorContains(t, err, `server-starter socket "127.0.0.1:1" on fd 100000: not a socket`)
		require.ErrorIs(t, err, syscall.EBADF)
	})
	t.Run("fd not a socket", func(t *testing.T) {
		f, err := os.Create(filepath.Join(t.TempDir(), "plain"))
		require.NoError(t, err)
		defer f.Close()
		env := fakeEnv{envServerStarterPort: fmt.Sprintf("8080=%d", f.Fd())}
		_, err = sockets(env.env(self), nil)
		require.ErrorIs(t, err, syscall.ENOTSOCK)
		_, err = f.Stat()
		require.NoError(t, err, "a descriptor that is not a socket is left open")
	})
	t.Run("stream socket not listening", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		ok, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ok.Close()
		okFD := inherit(t, ok.(*net.TCPListener))
		env := fakeEnv{envServerStarterPort: fmt.Sprintf("good=%d;conn=%d", okFD, inherit(t, c.(*net.TCPConn)))}
		_, err = sockets(env.env(self), nil)
		require.ErrorContains(t, err, `socket "conn"`)
		require.ErrorContains(t, err, "not listening")
		assert.Equal(t, 1, openCopies(t, ok.(*net.TCPListener)), "the socket opened before the error is closed")
	})
	t.Run("fallback bind fails", func(t *testing.T) {
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer busy.Close()
		_, err = sockets(fakeEnv{}.env(self), []string{"127.0.0.1:0", busy.Addr().String()})
		require.ErrorContains(t, err, `listener: bind "`+busy.Addr().String()+`"`)
		require.ErrorIs(t, err, syscall.EADDRINUSE)
	})
}
