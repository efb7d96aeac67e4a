package listener

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hijackServer answers GET /hold by hijacking the connection, registered
// with LongLived unless register is false. It writes "hi\n", and once told
// to stop waits linger, writes "bye\n", closes, and calls done, recording
// when. With ignore, it never looks at stop (a handler that does not know
// about the drain). Unregistered, it waits for release instead of stop.
type hijackServer struct {
	register, ignore bool
	linger           time.Duration
	release          chan struct{}

	mu     sync.Mutex
	doneAt time.Time
}

func (h *hijackServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	stop, done := (<-chan struct{})(h.release), func() {}
	if h.register {
		stop, done = LongLived(r)
	}
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		done()
		return
	}
	io.WriteString(c, "hi\n")
	if h.ignore {
		// Until the client or the drain deadline closes the connection.
		io.Copy(io.Discard, brw)
	} else {
		<-stop
		time.Sleep(h.linger)
		io.WriteString(c, "bye\n")
	}
	c.Close()
	h.mu.Lock()
	h.doneAt = time.Now()
	h.mu.Unlock()
	done()
}

// dialHold connects to /hold and reads the "hi" line.
func dialHold(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	_, err = io.WriteString(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "hi\n", line)
	return c, br
}

// TestLongLivedHijackedIsWaitedFor: the drain tells a registered hijacked
// connection to stop and returns only after its done — Shutdown alone would
// return at once.
func TestLongLivedHijackedIsWaitedFor(t *testing.T) {
	for _, register := range []bool{true, false} {
		name := map[bool]string{true: "registered", false: "not registered"}[register]
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			h := &hijackServer{register: register, linger: 300 * time.Millisecond, release: make(chan struct{})}
			stop, errC := serving(t, &http.Server{Handler: h}, ln, WithDrainTimeout(20*time.Second))
			_, br := dialHold(t, ln.Addr().String())

			stop()
			require.NoError(t, waitErr(t, errC))
			returned := time.Now()
			if !register {
				// What Shutdown does: it ignores the hijacked connection;
				// a process would exit now, under it.
				h.mu.Lock()
				assert.True(t, h.doneAt.IsZero(), "Serve returned while the connection was open")
				h.mu.Unlock()
				close(h.release) // let the handler end, not outlive the test
				return
			}
			h.mu.Lock()
			doneAt := h.doneAt
			h.mu.Unlock()
			require.False(t, doneAt.IsZero(), "Serve returned before the handler was done")
			assert.False(t, returned.Before(doneAt))
			line, err := br.ReadString('\n')
			require.NoError(t, err)
			assert.Equal(t, "bye\n", line, "the handler ended the connection itself")
		})
	}
}

// TestLongLivedDeadline: a registered connection whose handler never ends
// it is closed at the drain deadline, and Serve says so.
func TestLongLivedDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var logs []string
	var logMu sync.Mutex
	logf := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		logs = append(logs, strings.TrimSpace(fmt.Sprintf(format, args...)))
	}
	stop, errC := serving(t, &http.Server{Handler: &hijackServer{register: true, ignore: true}}, ln,
		WithDrainTimeout(400*time.Millisecond), WithLogger(logf))
	c, br := dialHold(t, ln.Addr().String())

	begin := time.Now()
	stop()
	err = waitErr(t, errC)
	require.ErrorIs(t, err, ErrDrainTimeout)
	assert.ErrorContains(t, err, "with 1 connections open (1 long-lived)")
	assert.Less(t, time.Since(begin), 10*time.Second)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = br.ReadString('\n')
	assert.ErrorIs(t, err, io.EOF, "the drain closed the connection")
	logMu.Lock()
	defer logMu.Unlock()
	assert.Contains(t, strings.Join(logs, "\n"), "1 connections closed, 1 of them long-lived: told to end, not closed in time")
}

// TestLongLivedStreamClosedWhenIdle: an event stream that ends during the
// drain has its keep-alive connection closed at once; the drain does not
// wait for the grace period (20 s here).
func TestLongLivedStreamClosedWhenIdle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stop, done := LongLived(r)
		defer done()
		io.WriteString(w, "start\n")
		w.(http.Flusher).Flush()
		<-stop
		io.WriteString(w, "end\n")
	})
	stop, errC := serving(t, &http.Server{Handler: h}, ln, WithGrace(20*time.Second), WithDrainTimeout(25*time.Second))
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Get("http://" + ln.Addr().String() + "/")
	require.NoError(t, err)
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "start\n", line)

	begin := time.Now()
	stop()
	rest, err := io.ReadAll(br)
	require.NoError(t, err, "the response ends cleanly")
	assert.Equal(t, "end\n", string(rest))
	resp.Body.Close() // the connection goes back to the client's pool
	require.NoError(t, waitErr(t, errC))
	assert.Less(t, time.Since(begin), 5*time.Second, "the drain did not wait for the grace period")
}

// TestCloseSpread: five connections, spread over 500 ms: stopped oldest
// first, the first at once, about 100 ms apart.
func TestCloseSpread(t *testing.T) {
	d := newDrainState()
	const n = 5
	var stops []<-chan struct{}
	for range n {
		c1, c2 := net.Pipe()
		defer c1.Close()
		defer c2.Close()
		s, done := d.hold(c1)
		defer done()
		stops = append(stops, s)
	}
	begin := time.Now()
	d.stopAll(500 * time.Millisecond)
	var at []time.Duration
	for _, s := range stops {
		select {
		case <-s:
		case <-time.After(10 * time.Second):
			t.Fatal("not stopped")
		}
		at = append(at, time.Since(begin))
	}
	t.Logf("stopped at %v", at)
	assert.Less(t, at[0], 50*time.Millisecond, "the first at once")
	for i := 1; i < n; i++ {
		assert.GreaterOrEqual(t, at[i], time.Duration(i)*100*time.Millisecond, "connection %d not before its turn", i)
	}
	s, done := d.hold(nil)
	defer done()
	select {
	case <-s:
	default:
		t.Error("a connection registered during the drain is stopped at once")
	}
}

func TestCloseSpreadCapped(t *testing.T) {
	assert.Equal(t, 5*time.Second, newServeConfig([]Option{WithDrainTimeout(10 * time.Second), WithCloseSpread(time.Minute)}).spread)
	assert.Equal(t, time.Duration(0), newServeConfig(nil).spread, "off by default")
}

func TestLongLivedOutsideServe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stop, done := LongLived(r)
		done()
		done()
		assert.Nil(t, stop)
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
}
