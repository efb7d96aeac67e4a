package load

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A streamServer serves /ws and /events as the example worker does, with
// "generations" inside one process: restart makes every connection of the
// current generation say goodbye (WebSocket: echo what it has read, then
// close 1012; SSE: retry:, then end the response), and new connections
// get the next generation, with a PID of its own. fault makes it misbehave
// in one way, to prove the meter sees it.
type streamServer struct {
	fault string
	addr  string

	mu    sync.Mutex
	gen   int
	bye   chan struct{}           // closed when the current generation is replaced
	conns map[string]*net.TCPConn // by remote address, to reset them
}

// The faults.
const (
	faultNone     = ""
	faultReset    = "reset"       // goodbye is a TCP reset (SO_LINGER 0), no close frame, no end of body
	faultCode     = "code 1000"   // WebSocket goodbye with 1000, not 1012
	faultIDsFrom1 = "ids from 1"  // SSE ignores Last-Event-ID and numbers each stream from 1
	faultIDGap    = "id gap"      // SSE skips id 2 of each stream
	faultDrop     = "drop echo"   // WebSocket does not echo the second message of a connection
	faultDup      = "double echo" // WebSocket echoes the first message of a connection twice
)

func newStreamServer(t *testing.T, fault string) *streamServer {
	t.Helper()
	s := &streamServer{fault: fault, gen: 1, bye: make(chan struct{}), conns: map[string]*net.TCPConn{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.addr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", s.ws)
	mux.HandleFunc("GET /events", s.events)
	srv := &http.Server{Handler: mux, ConnState: func(c net.Conn, st http.ConnState) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch st {
		case http.StateNew:
			s.conns[c.RemoteAddr().String()] = c.(*net.TCPConn)
		case http.StateClosed:
			delete(s.conns, c.RemoteAddr().String())
		}
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// restart replaces the current generation.
func (s *streamServer) restart() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.bye)
	s.gen++
	s.bye = make(chan struct{})
}

// current returns the generation a new connection belongs to, its
// goodbye channel, and sets the headers that name it.
func (s *streamServer) current(w http.ResponseWriter) (int, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("X-Pid", strconv.Itoa(1000+s.gen))
	w.Header().Set("X-Generation", strconv.Itoa(s.gen))
	return s.gen, s.bye
}

// reset closes the TCP connection of r with a reset.
func (s *streamServer) reset(r *http.Request) {
	s.mu.Lock()
	c := s.conns[r.RemoteAddr]
	s.mu.Unlock()
	if c != nil {
		c.SetLinger(0)
		c.Close()
	}
}

func (s *streamServer) ws(w http.ResponseWriter, r *http.Request) {
	_, bye := s.current(w)
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	var mu sync.Mutex
	closing := false
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		n := 0
		for {
			typ, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			n++
			mu.Lock()
			// Echo only before the goodbye: a message read after it was
			// sent is not echoed, and the client sends it again.
			if !closing && (s.fault != faultDrop || n != 2) {
				c.Write(context.Background(), typ, b)
				if s.fault == faultDup && n == 1 {
					c.Write(context.Background(), typ, b)
				}
			}
			mu.Unlock()
		}
	}()
	select {
	case <-readerDone:
		return
	case <-bye:
	}
	mu.Lock()
	closing = true
	mu.Unlock()
	switch s.fault {
	case faultReset:
		s.reset(r)
	case faultCode:
		c.Close(websocket.StatusNormalClosure, "bye")
	default:
		c.Close(websocket.StatusServiceRestart, "restart")
	}
	<-readerDone
}

func (s *streamServer) events(w http.ResponseWriter, r *http.Request) {
	gen, bye := s.current(w)
	ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
	if err != nil || ms <= 0 {
		ms = 100
	}
	id, _ := strconv.Atoi(r.Header.Get("Last-Event-ID"))
	if s.fault == faultIDsFrom1 {
		id = 0
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	tick := time.NewTicker(time.Duration(ms) * time.Millisecond)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-r.Context().Done():
			return
		case <-bye:
			if s.fault == faultReset {
				s.reset(r)
				return
			}
			fmt.Fprint(w, "retry: 5\n\n")
			return
		case <-tick.C:
		}
		id++
		if s.fault == faultIDGap && n == 2 {
			id++
		}
		fmt.Fprintf(w, "id: %d\ndata: %d %d tick\n\n", id, gen, 1000+gen)
		w.(http.Flusher).Flush()
	}
}

// runStreams runs clients of both kinds against s across restarts and
// returns their report: every restart waits until every client is
// connected to the new generation and has had some traffic there.
func runStreams(t *testing.T, s *streamServer, clients, restarts int) StreamReport {
	t.Helper()
	run, err := StartStreams(StreamConfig{Addr: s.addr, WS: clients, SSE: clients, Interval: 5 * time.Millisecond,
		MaxDuration: 60 * time.Second, Timeout: 10 * time.Second, SSERetry: 20 * time.Millisecond})
	require.NoError(t, err)
	defer run.Stop()
	waitAll := func(gen int) {
		base := run.Snapshot()
		ok := waitStreams(run, func(r StreamReport) bool {
			return r.Open[gen] == 2*clients && r.WS.Echoed >= base.WS.Echoed+20*clients && r.SSE.Events >= base.SSE.Events+20*clients
		})
		require.True(t, ok, "every client on generation %d: %v", gen, run.Snapshot())
	}
	waitAll(1)
	for g := 2; g <= restarts+1; g++ {
		s.restart()
		waitAll(g)
	}
	return run.Stop()
}

func waitStreams(run *StreamRun, cond func(StreamReport) bool) bool {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if cond(run.Snapshot()) {
			return true
		}
		select {
		case <-run.Done():
			return cond(run.Snapshot())
		case <-time.After(2 * time.Millisecond):
		}
	}
	return false
}

// A server that follows the spec: every close is a 1012, every SSE end
// clean after retry:, nothing lost, duplicated or skipped, every client
// reconnected once per restart.
func TestStreamsCleanRestart(t *testing.T) {
	t.Parallel()
	s := newStreamServer(t, faultNone)
	rep := runStreams(t, s, 5, 2)
	assert.Zero(t, rep.Failures(), "%v", rep)
	assert.Equal(t, map[int]int{1012: 10}, rep.WS.Codes)
	assert.Equal(t, 10, rep.SSE.Ends)
	assert.Equal(t, 10, rep.SSE.Retry)
	assert.Equal(t, 15, rep.WS.Connects)
	assert.Equal(t, map[int]int{1: 10, 2: 10, 3: 10}, rep.ByGen)
	assert.Equal(t, 20, rep.Reconnects)
	assert.Equal(t, rep.WS.Sent, rep.WS.Echoed, "every message echoed once")
	assert.Positive(t, rep.SSE.Events)
	assert.Positive(t, rep.Reconnect.P50)
	assert.Contains(t, rep.LastClose, 1)
	assert.Contains(t, rep.LastClose, 2)
	assert.Contains(t, rep.String(), "other codes 0, abnormal 0, dial errors 0")
	assert.Contains(t, rep.String(), "id gaps 0, duplicates 0")
}

// Each way a restart can hurt a long-lived client is counted in its class.
func TestStreamsCountEachFailure(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		fault string
		check func(t *testing.T, r StreamReport)
	}{
		{faultReset, func(t *testing.T, r StreamReport) {
			assert.Equal(t, 5, r.WS.AbnormalCount(), "WebSocket closes without a close frame")
			assert.Equal(t, 5, r.SSE.AbnormalCount(), "SSE responses cut before their end")
			assert.Equal(t, 5, r.WS.Abnormal[Reset]+r.WS.Abnormal[EOF])
			assert.Empty(t, r.WS.Codes)
			assert.Zero(t, r.SSE.Ends)
			assert.Zero(t, r.WS.Lost, "what the reset swallowed was sent again")
		}},
		{faultCode, func(t *testing.T, r StreamReport) {
			assert.Equal(t, map[int]int{1000: 5}, r.WS.Codes)
			assert.Equal(t, 5, r.WS.OtherCodes())
			assert.Zero(t, r.WS.AbnormalCount())
		}},
		{faultIDsFrom1, func(t *testing.T, r StreamReport) {
			assert.GreaterOrEqual(t, r.SSE.DupIDs, 5, "each reconnected stream starts again at id 1, seen already")
			assert.Zero(t, r.SSE.Gaps)
		}},
		{faultIDGap, func(t *testing.T, r StreamReport) {
			assert.Equal(t, 10, r.SSE.Gaps, "one id skipped per stream")
			assert.Zero(t, r.SSE.DupIDs)
		}},
		{faultDrop, func(t *testing.T, r StreamReport) {
			assert.Equal(t, 10, r.WS.Lost, "one message per connection")
			assert.Zero(t, r.WS.Duplicated)
		}},
		{faultDup, func(t *testing.T, r StreamReport) {
			assert.Equal(t, 10, r.WS.Duplicated, "one message per connection")
			assert.Zero(t, r.WS.Lost)
		}},
	} {
		t.Run(c.fault, func(t *testing.T) {
			t.Parallel()
			rep := runStreams(t, newStreamServer(t, c.fault), 5, 1)
			assert.Positive(t, rep.Failures())
			assert.Equal(t, map[int]int{1: 10, 2: 10}, rep.ByGen, "%v", rep)
			c.check(t, rep)
		})
	}
}

func TestStreamsDialErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	ln.Close()
	run, err := StartStreams(StreamConfig{Addr: closed, WS: 2, SSE: 2, MaxDuration: 10 * time.Second, SSERetry: 5 * time.Millisecond})
	require.NoError(t, err)
	require.True(t, waitStreams(run, func(r StreamReport) bool { return r.WS.Dial[Refused] >= 4 && r.SSE.Dial[Refused] >= 4 }))
	rep := run.Stop()
	assert.Zero(t, rep.WS.Connects+rep.SSE.Connects)

	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	run, err = StartStreams(StreamConfig{Addr: srv, WS: 1, SSE: 1, MaxDuration: 10 * time.Second, SSERetry: 5 * time.Millisecond})
	require.NoError(t, err)
	require.True(t, waitStreams(run, func(r StreamReport) bool { return r.WS.Dial[Non2xx] >= 2 && r.SSE.Dial[Non2xx] >= 2 }))
	run.Stop()

	_, err = StartStreams(StreamConfig{Addr: "10.0.0.1:80", WS: 1, MaxDuration: time.Second})
	assert.Error(t, err)
}
