package listener

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	"hotdeploy/internal/load"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testServer answers GET / with X-Pid: id (a stand-in for a worker's PID)
// and GET /slow?ms=N after N ms, its first byte flushed at once.
func testServer(id int) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Pid", strconv.Itoa(id))
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		w.Header().Set("X-Pid", strconv.Itoa(id))
		io.WriteString(w, ".")
		w.(http.Flusher).Flush()
		time.Sleep(time.Duration(ms) * time.Millisecond)
		io.WriteString(w, "done\n")
	})
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}

// serving runs Serve in a goroutine, stopped by cancelling the returned
// context (no signals), and returns the channel of its result.
func serving(t *testing.T, srv *http.Server, ln net.Listener, opts ...Option) (context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errC, doneC := make(chan error, 1), make(chan struct{})
	opts = append([]Option{WithSignals(), WithContext(ctx)}, opts...)
	go func() {
		defer close(doneC)
		errC <- Serve(srv, []net.Listener{ln}, opts...)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-doneC:
		case <-time.After(30 * time.Second):
			t.Error("Serve did not return within 30s of the end of the test")
		}
	})
	return cancel, errC
}

func waitErr(t *testing.T, errC <-chan error) error {
	t.Helper()
	select {
	case err := <-errC:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return within 30s")
		return nil
	}
}

// copyOf returns a second listener on the same socket as ln, as the next
// worker would have it: one kernel accept queue, two descriptors.
func copyOf(t *testing.T, ln net.Listener) net.Listener {
	t.Helper()
	f, err := ln.(*net.TCPListener).File()
	require.NoError(t, err)
	defer f.Close()
	c, err := net.FileListener(f)
	require.NoError(t, err)
	return c
}

// TestServeRestartZeroErrors does two restarts inside one process: server 1
// serves under load; server 2 starts on a copy of the socket, server 1 is
// stopped and drains; then the same from 2 to 3. No client may see an error
// of any class.
func TestServeRestartZeroErrors(t *testing.T) {
	for _, keepAlive := range []bool{true, false} {
		t.Run(fmt.Sprintf("keepalive=%v", keepAlive), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			// The copies the next servers will use, made while the socket
			// is open (a starter holds one the same way).
			copies := map[int]net.Listener{2: copyOf(t, ln), 3: copyOf(t, ln)}
			stop, errC := serving(t, testServer(1), ln, WithDrainTimeout(20*time.Second))

			run, err := load.Start(load.Config{Addr: ln.Addr().String(), Clients: 50, MaxRequests: 500_000,
				MaxDuration: 60 * time.Second, KeepAlive: keepAlive, Timeout: 10 * time.Second})
			require.NoError(t, err)
			defer run.Stop()
			require.True(t, run.WaitFor(func(r load.Report) bool { return r.ByPID[1] >= 200 }, 30*time.Second),
				"server 1 served: %v", run.Snapshot())

			for next := 2; next <= 3; next++ {
				nextStop, nextErrC := serving(t, testServer(next), copies[next])
				stop()
				require.NoError(t, waitErr(t, errC), "server %d drained completely", next-1)
				after := run.Snapshot().ByPID[next]
				require.True(t, run.WaitFor(func(r load.Report) bool { return r.ByPID[next] >= after+200 }, 30*time.Second),
					"server %d serves after server %d is gone: %v", next, next-1, run.Snapshot())
				stop, errC = nextStop, nextErrC
			}
			rep := run.Stop()
			t.Logf("%v", rep)
			assert.Zero(t, rep.Failed(), "errors: %v", rep.Errors)
			assert.Positive(t, rep.ByPID[1])
			assert.Positive(t, rep.ByPID[2])
			assert.Positive(t, rep.ByPID[3])
			assert.Zero(t, rep.FromOtherPIDs(1, 2, 3))
		})
	}
}

func TestServeSlowRequestFinishes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	stop, errC := serving(t, testServer(1), ln)

	f, err := load.BeginSlow(addr, "/slow?ms=500", 10*time.Second)
	require.NoError(t, err)
	stop()
	rest, err := f.Finish(10 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, "done\n", rest)
	require.NoError(t, waitErr(t, errC))

	// Nobody else holds the socket: it is gone with our listener.
	_, err = net.Dial("tcp", addr)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
}

func TestServeDrainDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	stop, errC := serving(t, testServer(1), ln, WithDrainTimeout(300*time.Millisecond))

	f, err := load.BeginSlow(ln.Addr().String(), "/slow?ms=20000", 10*time.Second)
	require.NoError(t, err)
	begin := time.Now()
	stop()
	err = waitErr(t, errC)
	require.ErrorIs(t, err, ErrDrainTimeout)
	assert.ErrorContains(t, err, "with 1 connections open")
	assert.Less(t, time.Since(begin), 10*time.Second, "the deadline, not the request, ended the drain")
	_, err = f.Finish(10 * time.Second)
	require.Error(t, err, "the cut request fails")
	assert.Equal(t, load.EOF, load.Classify(err))
}

// TestServeKeepAliveGetsClose: a keep-alive connection that sends a request
// during the drain gets "Connection: close", and the drain ends once the
// client has hung up, long before the grace period.
func TestServeKeepAliveGetsClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	drainingC := make(chan struct{})
	stop, errC := serving(t, testServer(1), ln, WithGrace(20*time.Second), WithDrainTimeout(25*time.Second),
		OnDraining(func() { close(drainingC) }))

	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	br := bufio.NewReader(conn)
	get := func() *http.Response {
		t.Helper()
		require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
		_, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		return resp
	}
	require.False(t, get().Close, "before the drain the connection is kept")

	begin := time.Now()
	stop()
	<-drainingC
	// The draining flag is set a moment after OnDraining; until then the
	// connection is still kept alive. Bounded: the grace period is 20 s.
	var closed bool
	for i := 0; i < 10_000 && !closed; i++ {
		closed = get().Close
	}
	require.True(t, closed, "a request during the drain is answered with Connection: close")
	conn.Close()
	require.NoError(t, waitErr(t, errC))
	assert.Less(t, time.Since(begin), 10*time.Second, "the drain ended when the client hung up, not after the grace")
}

// TestServeSignal stops Serve with a real signal; another signal of the set
// does not disturb the drain, the same one again cuts it short.
func TestServeSignal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	servingC, drainingC := make(chan struct{}), make(chan struct{})
	errC := make(chan error, 1)
	go func() {
		errC <- Serve(testServer(1), []net.Listener{ln}, WithSignals(syscall.SIGUSR1, syscall.SIGUSR2), WithDrainTimeout(25*time.Second),
			OnServing(func() { close(servingC) }), OnDraining(func() { close(drainingC) }))
	}()
	<-servingC
	f, err := load.BeginSlow(ln.Addr().String(), "/slow?ms=20000", 10*time.Second)
	require.NoError(t, err)
	defer f.Finish(time.Second)

	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGUSR1))
	select {
	case <-drainingC:
	case <-time.After(30 * time.Second):
		t.Fatal("no drain after SIGUSR1")
	}
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGUSR2))
	select {
	case err := <-errC:
		t.Fatalf("Serve returned while a request was in flight: %v", err)
	case <-time.After(200 * time.Millisecond): // settle: must not happen
	}
	begin := time.Now()
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGUSR1))
	err = waitErr(t, errC)
	require.ErrorIs(t, err, ErrDrainTimeout)
	assert.Less(t, time.Since(begin), 10*time.Second)
}

func TestServeNoListeners(t *testing.T) {
	require.EqualError(t, Serve(&http.Server{}, nil), "listener: serve: no listeners")
}
