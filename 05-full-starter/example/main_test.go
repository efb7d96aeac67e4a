package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hotdeploy/internal/load"
	"hotdeploy/internal/proc"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The worker, built twice: as version v1 and as version v2 (a deploy); and
// our start_server (stage 05), for the tests of long-lived connections.
var binV1, binV2, starterBin string

func TestMain(m *testing.M) {
	var clean1, clean2 func()
	binV1, clean1 = proc.BuildMain(".", "-ldflags=-X main.version=v1")
	binV2, clean2 = proc.BuildMain(".", "-ldflags=-X main.version=v2")
	var err error
	if starterBin, err = proc.Build("..", filepath.Dir(binV1)); err != nil {
		clean1()
		clean2()
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	clean1()
	clean2()
	os.Exit(code)
}

// listeningRe matches the worker's announcement: address and PID.
const listeningRe = `^listening on (\S+) pid=(\d+)$`

// get fetches http://addr/path on a fresh connection.
func get(t *testing.T, addr, path string) (*http.Response, string) {
	t.Helper()
	require.NoError(t, load.CheckLoopback(addr))
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

func TestStandalone(t *testing.T) {
	p := proc.StartT(t, binV1, "-addr", "127.0.0.1:0", "-drain", "20s")
	m := p.WaitLineT(t, listeningRe)
	addr, pid := m[1], m[2]
	assert.Equal(t, strconv.Itoa(p.PID()), pid)

	resp, body := get(t, addr, "/")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, pid, resp.Header.Get("X-Pid"))
	assert.Equal(t, "0", resp.Header.Get("X-Generation"), "no starter, no generation")
	assert.Equal(t, "v1", resp.Header.Get("X-Version"))
	assert.Equal(t, "hello from pid "+pid+", generation 0, version v1\n", body)

	for _, bad := range []string{"/slow", "/slow?ms=x", "/slow?ms=-1", "/slow?ms=60001"} {
		resp, _ := get(t, addr, bad)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, bad)
	}
	resp, _ = get(t, addr, "/nothing")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	// A request in flight at SIGTERM is answered in full, then the worker
	// exits 0 and its socket is gone.
	f, err := load.BeginSlow(addr, "/slow?ms=700", 10*time.Second)
	require.NoError(t, err)
	assert.Equal(t, pid, strconv.Itoa(f.PID))
	p.SignalT(t, syscall.SIGTERM)
	p.WaitLineT(t, `got terminated, draining`)
	rest, err := f.Finish(10 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, " done after 700 ms, pid "+pid+", generation 0\n", rest)
	assert.Equal(t, 0, p.WaitT(t))
	p.WaitLineT(t, `drained in`)
	p.WaitLineT(t, `exiting$`)
	_, err = net.Dial("tcp", addr)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
}

func TestInterrupt(t *testing.T) {
	p := proc.StartT(t, binV1, "-addr", "127.0.0.1:0")
	p.WaitLineT(t, listeningRe)
	p.SignalT(t, syscall.SIGINT)
	assert.Equal(t, 0, p.WaitT(t))
	p.WaitLineT(t, `got interrupt, draining`)
}

func TestDrainDeadline(t *testing.T) {
	p := proc.StartT(t, binV1, "-addr", "127.0.0.1:0", "-drain", "300ms")
	addr := p.WaitLineT(t, listeningRe)[1]
	f, err := load.BeginSlow(addr, "/slow?ms=20000", 10*time.Second)
	require.NoError(t, err)
	p.SignalT(t, syscall.SIGTERM)
	assert.Equal(t, 1, p.WaitT(t), "a cut drain is a failure")
	p.WaitLineT(t, `exiting: listener: drain deadline passed with 1 connections open`)
	_, err = f.Finish(10 * time.Second)
	assert.Error(t, err)
}

func TestBadUsage(t *testing.T) {
	for _, args := range [][]string{{"-drain", "0s"}, {"-drain", "-1s"}, {"extra"}, {"-close-spread", "-1s"}, {"CLOSE_SPREAD=x"}} {
		cmd := exec.Command(binV1, args...)
		if strings.Contains(args[0], "=") {
			cmd = exec.Command(binV1)
			cmd.Env = append(os.Environ(), args[0])
		}
		p, err := proc.StartCmd(cmd)
		require.NoError(t, err)
		proc.Track(t, p)
		assert.Equal(t, 2, p.WaitT(t), "%v", args)
		lines := p.Lines()
		require.Len(t, lines, 1, "one line naming the problem: %q", lines)
		assert.True(t, strings.HasPrefix(lines[0], "example: "), lines[0])
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	p := proc.StartT(t, binV1, "-addr", busy.Addr().String())
	assert.Equal(t, 1, p.WaitT(t))
	p.WaitLineT(t, `listener: bind "`+busy.Addr().String()+`": .*address already in use`)
}

// TestNotifySocket: with NOTIFY_SOCKET set the worker says READY=1 once
// serving, and STOPPING=1 on SIGTERM.
func TestNotifySocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	sup, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	require.NoError(t, err)
	defer sup.Close()
	recv := func() string {
		t.Helper()
		require.NoError(t, sup.SetReadDeadline(time.Now().Add(proc.ReadyTimeout)))
		buf := make([]byte, 512)
		n, err := sup.Read(buf)
		require.NoError(t, err)
		return string(buf[:n])
	}

	cmd := exec.Command(binV1, "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+path)
	p, err := proc.StartCmd(cmd)
	require.NoError(t, err)
	proc.Track(t, p)
	assert.Equal(t, "READY=1", recv())
	// (The order of READY=1 and the line cannot be checked from here: the
	// line travels through a pipe and a reader goroutine.)
	p.WaitLineT(t, listeningRe)
	p.SignalT(t, syscall.SIGTERM)
	assert.Equal(t, "STOPPING=1", recv())
	assert.Equal(t, 0, p.WaitT(t))
}

// freePort returns a port the OS just gave out on 127.0.0.1. There is a
// small race: between our close and the starter's bind, someone else may
// take it. Callers retry once when the starter reports "address in use".
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startStarter starts our start_server on 127.0.0.1:0 (the kernel picks
// the port) with args after the --port, and waits for the first worker's
// listening line: it returns the address and the pid that line names.
func startStarter(t *testing.T, args ...string) (*proc.Process, string, int) {
	t.Helper()
	p := proc.StartT(t, starterBin, append([]string{"--port=127.0.0.1:0"}, args...)...)
	m := p.WaitLineT(t, listeningRe)
	pid, _ := strconv.Atoi(m[2])
	return p, m[1], pid
}

// startOnFreePort starts a starter command built by argv(port) and waits for
// a line matching re (with the PID as the last submatch, if any); it retries
// once on a lost port race. It returns the process, the address and the PID.
func startOnFreePort(t *testing.T, re string, argv func(port int) []string) (*proc.Process, string, int) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		args := argv(port)
		p := proc.StartT(t, args[0], args[1:]...)
		m, err := p.WaitLine(regexp.MustCompile(re), proc.ReadyTimeout)
		if err == nil {
			pid, _ := strconv.Atoi(m[len(m)-1])
			return p, fmt.Sprintf("127.0.0.1:%d", port), pid
		}
		if attempt == 1 && strings.Contains(strings.ToLower(p.Output()), "address already in use") {
			t.Logf("port %d was taken before the starter bound it; retrying once", port)
			continue
		}
		t.Fatalf("%v\n%s", err, p.Output())
	}
}

// TestSystemdSocketActivate runs the worker under systemd-socket-activate,
// which binds the port, waits for a first connection, then execs the worker
// (same PID) with the socket on fd 3 and LISTEN_FDS=1, LISTEN_PID=its PID.
func TestSystemdSocketActivate(t *testing.T) {
	sa, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Skip("systemd-socket-activate is not installed (Debian package systemd)")
	}
	p, addr, _ := startOnFreePort(t, `^Listening on 127\.0\.0\.1:\d+ as 3\.$`, func(port int) []string {
		return []string{sa, "-l", fmt.Sprintf("127.0.0.1:%d", port), "--fdname=web", binV1}
	})
	resp, _ := get(t, addr, "/") // this connection makes it exec the worker
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, strconv.Itoa(p.PID()), resp.Header.Get("X-Pid"), "exec kept the PID, so LISTEN_PID matched")
	p.WaitLineT(t, `^listening on `+regexp.QuoteMeta(addr)+` pid=`+strconv.Itoa(p.PID())+`$`)
	p.WaitLineT(t, `sockets from systemd$`)
	p.SignalT(t, syscall.SIGTERM)
	assert.Equal(t, 0, p.WaitT(t))
}
