package starter

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePortSpec(t *testing.T) {
	good := []struct {
		spec, key, network, host string
		port, fd                 int
	}{
		{"8080", "8080", "tcp", "", 8080, -1},
		{"u9000", "9000", "udp", "", 9000, -1},
		{"127.0.0.1:8080", "127.0.0.1:8080", "tcp", "127.0.0.1", 8080, -1},
		{"127.0.0.1:u9000", "127.0.0.1:9000", "udp", "127.0.0.1", 9000, -1},
		{"[::1]:8080", "[::1]:8080", "tcp", "::1", 8080, -1},
		{"[::1]:u8080=7", "[::1]:8080", "udp", "::1", 8080, 7},
		{"::1:8080", "[::1]:8080", "tcp", "::1", 8080, -1},
		{"localhost:80=5", "localhost:80", "tcp", "localhost", 80, 5},
		{" 127.0.0.1:0 = 3 ", "127.0.0.1:0", "tcp", "127.0.0.1", 0, 3},
		{"5000=0", "5000", "tcp", "", 5000, 0},
		{"[1.2.3.4]:80", "1.2.3.4:80", "tcp", "1.2.3.4", 80, -1}, // Perl's brackets are optional
	}
	for _, g := range good {
		s, err := parsePortSpec(g.spec)
		if assert.NoError(t, err, g.spec) {
			assert.Equal(t, g.key, s.key, g.spec)
			assert.Equal(t, g.network, s.network, g.spec)
			assert.Equal(t, g.host, s.host, g.spec)
			assert.Equal(t, g.port, s.port, g.spec)
			assert.Equal(t, g.fd, s.fd, g.spec)
		}
	}
	bad := map[string]string{
		"":                "not a number",
		"http":            "not a number",
		"70000":           "not a number from 0 to 65535",
		"-1":              "not a number",
		"127.0.0.1:":      "not a number",
		":80":             "empty host",
		"127.0.0.1:80=":   "file descriptor",
		"127.0.0.1:80=x":  "file descriptor",
		"127.0.0.1:80=-3": "file descriptor",
		"[::1]8080":       "[IPV6]:PORT",
		"[::1:8080":       "[IPV6]:PORT",
		"fe80:::zz:80":    "not an IPv6",
		"uu80":            "not a number",
	}
	for spec, want := range bad {
		_, err := parsePortSpec(spec)
		if assert.Error(t, err, spec) {
			assert.Contains(t, err.Error(), want, spec)
		}
	}
}

func TestPlanFDsAndPortVar(t *testing.T) {
	mk := func(specs ...string) []*boundSocket {
		var out []*boundSocket
		for _, sp := range specs {
			var s socketSpec
			var err error
			if strings.HasPrefix(sp, "/") {
				s, err = parsePathSpec(sp)
			} else {
				s, err = parsePortSpec(sp)
			}
			require.NoError(t, err)
			out = append(out, &boundSocket{spec: s, file: os.NewFile(uintptr(100+len(out)), sp)})
		}
		return out
	}
	// The exact strings measured with Perl's start_server (server-starter.md).
	socks := mk("127.0.0.1:18082", "18083", "/tmp/t.sock")
	p := planFDs(socks, true)
	assert.Equal(t, "127.0.0.1:18082=3;18083=4;/tmp/t.sock=5", portVar(socks))
	assert.Equal(t, 3, p.listenFDs, "dense 3..5: socket activation too")
	assert.Equal(t, []string{"127.0.0.1_18082", "18083", "/tmp/t.sock"}, p.names)
	assert.Len(t, p.extra, 3)
	p = planFDs(socks, false)
	assert.Equal(t, 0, p.listenFDs, "without --listen-fds: no LISTEN_FDS")
	assert.Equal(t, "127.0.0.1:18082=3;18083=4;/tmp/t.sock=5", portVar(socks), "the same fds")

	socks = mk("[::1]:18084")
	planFDs(socks, true)
	assert.Equal(t, "[::1]:18084=3", portVar(socks))

	// =FD wins; the others fill the lowest free fds from 3.
	socks = mk("127.0.0.1:1=5", "127.0.0.1:2", "127.0.0.1:3=3")
	p = planFDs(socks, true)
	assert.Equal(t, "127.0.0.1:1=5;127.0.0.1:2=4;127.0.0.1:3=3", portVar(socks))
	assert.Equal(t, 3, p.listenFDs, "3,4,5 is dense")
	assert.Equal(t, []string{"127.0.0.1_3", "127.0.0.1_2", "127.0.0.1_1"}, p.names, "names in fd order")

	socks = mk("127.0.0.1:1=9")
	p = planFDs(socks, true)
	assert.Equal(t, 0, p.listenFDs, "a gap: no LISTEN_FDS")
	assert.Len(t, p.extra, 7)
	assert.Nil(t, p.extra[0])
	assert.NotNil(t, p.extra[6])

	socks = mk("127.0.0.1:1=0")
	p = planFDs(socks, true)
	assert.NotNil(t, p.stdio[0])
	assert.Equal(t, 0, p.listenFDs)

	p = planFDs(nil, true)
	assert.Equal(t, "", portVar(nil), "no sockets: set and empty")
	assert.Equal(t, 0, p.listenFDs)
}

func TestBindInetPortInUse(t *testing.T) {
	spec, err := parsePortSpec("127.0.0.1:0")
	require.NoError(t, err)
	a, err := bindInet(spec, 16)
	require.NoError(t, err)
	defer a.file.Close()
	_, port, _ := net.SplitHostPort(a.addr)
	spec2, err := parsePortSpec("127.0.0.1:" + port)
	require.NoError(t, err)
	_, err = bindInet(spec2, 16)
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.EADDRINUSE)
	assert.NotContains(t, err.Error(), "--", "the library names no flags")
}

func TestBindUnix(t *testing.T) {
	dir := t.TempDir()
	var warnings []string
	warnf := func(f string, a ...any) { warnings = append(warnings, f) }

	// A regular file with data is refused and left alone.
	file := filepath.Join(dir, "data")
	require.NoError(t, os.WriteFile(file, []byte("precious"), 0o644))
	spec, _ := parsePathSpec(file)
	_, err := bindUnix(spec, 16, 0, warnf)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exists and is a regular file, not a socket")
	b, err := os.ReadFile(file)
	require.NoError(t, err, "the file must still be there")
	assert.Equal(t, "precious", string(b))

	// A directory too.
	spec, _ = parsePathSpec(dir)
	_, err = bindUnix(spec, 16, 0, warnf)
	assert.ErrorContains(t, err, "exists and is a directory, not a socket")

	// A fresh socket: mode 0600.
	path := filepath.Join(dir, "s.sock")
	spec, _ = parsePathSpec(path)
	s, err := bindUnix(spec, 16, 0, warnf)
	require.NoError(t, err)
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	assert.Equal(t, os.ModeSocket|0o600, fi.Mode()&(os.ModeType|os.ModePerm))

	// A live socket (someone answers) is refused.
	_, err = bindUnix(spec, 16, 0, warnf)
	assert.ErrorIs(t, err, errInUse)

	// A dead socket is replaced, with Perl's warning; mode as asked.
	s.file.Close()
	s2, err := bindUnix(spec, 16, 0o660, warnf)
	require.NoError(t, err)
	assert.Equal(t, []string{"removing existing socket file:%s"}, warnings)
	fi, _ = os.Lstat(path)
	assert.Equal(t, os.FileMode(0o660), fi.Mode().Perm())

	// removeUnixSocket removes only our own socket file.
	removeUnixSocket(s) // the first one's file was replaced: not ours anymore
	_, err = os.Lstat(path)
	assert.NoError(t, err, "a socket that is no longer ours stays")
	removeUnixSocket(s2)
	_, err = os.Lstat(path)
	assert.ErrorIs(t, err, os.ErrNotExist)
	s2.file.Close()
}

func TestParseSignal(t *testing.T) {
	for _, n := range []string{"TERM", "SIGTERM", "term", "sigterm", " Term ", "15"} {
		sig, err := ParseSignal(n)
		if assert.NoError(t, err, n) {
			assert.Equal(t, syscall.SIGTERM, sig, n)
		}
	}
	sig, err := ParseSignal("usr1")
	require.NoError(t, err)
	assert.Equal(t, syscall.SIGUSR1, sig)
	for _, n := range []string{"", "TERMINATE", "SIG", "0", "99"} {
		_, err := ParseSignal(n)
		assert.Error(t, err, n)
	}
	assert.Equal(t, "USR1", signalName(syscall.SIGUSR1))
}
