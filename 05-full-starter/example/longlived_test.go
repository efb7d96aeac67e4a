package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"hotdeploy/internal/load"
	"hotdeploy/internal/proc"
)

// connEnd is one long-lived connection of a test client, as the client saw
// it: which worker served it, how it ended and when.
type connEnd struct {
	gen, pid int
	code     websocket.StatusCode // WebSocket: the close status the client got (-1: none, an abnormal close)
	clean    bool                 // event stream: the response ended properly (last chunk), after a "retry:" line
	err      string               // what went wrong, if anything
	at       time.Time
}

// clientLog is what one test client records; safe for concurrent use.
type clientLog struct {
	mu      sync.Mutex
	current int // generation of the connection open now (0: none)
	ends    []connEnd
	lost    []string    // protocol errors: a duplicate echo, an id gap…
	got     map[int]int // messages received (echoes, events) per generation
}

func (l *clientLog) received(gen int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.got == nil {
		l.got = map[int]int{}
	}
	l.got[gen]++
}

func (l *clientLog) gotOn(gen int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.got[gen]
}

func (l *clientLog) connected(gen int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.current = gen
}

func (l *clientLog) ended(e connEnd) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.current = 0
	l.ends = append(l.ends, e)
}

func (l *clientLog) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lost = append(l.lost, fmt.Sprintf(format, args...))
}

func (l *clientLog) on() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.current
}

// headerInt reads the worker's X-Generation or X-Pid header.
func headerInt(h http.Header, key string) int {
	n, _ := strconv.Atoi(h.Get(key))
	return n
}

// wsClient connects to /ws until ctx ends, sending "name N" every 10 ms and
// checking the echoes: each message must come back once. What was not echoed
// when a connection closes is sent again on the next one. At the end it
// waits for the last echoes and closes normally. It returns the messages
// never echoed.
func wsClient(ctx context.Context, addr, name string, l *clientLog) []string {
	var mu sync.Mutex
	var pending []string // sent, not echoed yet, in order
	sent := 0
	for attempt := 0; attempt < 1000; attempt++ {
		dialCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, resp, err := websocket.Dial(dialCtx, "ws://"+addr+"/ws", nil)
		cancel()
		if err != nil {
			l.fail("%s: dial: %v", name, err)
			if ctx.Err() != nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		gen, pid := headerInt(resp.Header, "X-Generation"), headerInt(resp.Header, "X-Pid")
		l.connected(gen)
		mu.Lock()
		resend := slices.Clone(pending)
		mu.Unlock()
		for _, m := range resend {
			if c.Write(context.Background(), websocket.MessageText, []byte(m)) != nil {
				break // the reader sees why
			}
		}
		readDone := make(chan connEnd, 1)
		go func() {
			for {
				_, msg, err := c.Read(context.Background())
				if err != nil {
					e := connEnd{gen: gen, pid: pid, code: websocket.CloseStatus(err), at: time.Now()}
					if e.code == -1 {
						e.err = err.Error()
					}
					readDone <- e
					return
				}
				mu.Lock()
				i := slices.Index(pending, string(msg))
				if i >= 0 {
					pending = slices.Delete(pending, i, i+1)
				}
				mu.Unlock()
				if i < 0 {
					l.fail("%s: echo of %q, not sent or already echoed", name, msg)
				}
				l.received(gen)
			}
		}()
		tick := time.NewTicker(10 * time.Millisecond)
	send:
		for {
			select {
			case e := <-readDone:
				tick.Stop()
				l.ended(e)
				break send
			case <-ctx.Done():
				tick.Stop()
				// The end of the test: the last echoes, then a normal close.
				for i := 0; i < 500; i++ {
					mu.Lock()
					n := len(pending)
					mu.Unlock()
					if n == 0 {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				c.Close(websocket.StatusNormalClosure, "")
				<-readDone
				mu.Lock()
				defer mu.Unlock()
				return slices.Clone(pending)
			case <-tick.C:
				sent++
				m := fmt.Sprintf("%s %d", name, sent)
				mu.Lock()
				pending = append(pending, m)
				mu.Unlock()
				// An error here: the reader reports how the connection
				// ended; the message is sent again on the next one.
				_ = c.Write(context.Background(), websocket.MessageText, []byte(m))
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(pending)
}

// sseClient reads /events?ms=10 until ctx ends, reconnecting with
// Last-Event-ID after every end of stream: the ids must go 1, 2, 3… with
// no gap and no repeat, across workers. It returns the last id.
func sseClient(ctx context.Context, addr, name string, l *clientLog) int {
	last := 0
	client := &http.Client{} // keep-alive, as browsers do
	for attempt := 0; attempt < 1000 && ctx.Err() == nil; attempt++ {
		req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/events?ms=10", nil)
		if err != nil {
			panic(err)
		}
		if last > 0 {
			req.Header.Set("Last-Event-ID", strconv.Itoa(last))
		}
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				l.fail("%s: get: %v", name, err)
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		e := connEnd{gen: headerInt(resp.Header, "X-Generation"), pid: headerInt(resp.Header, "X-Pid")}
		l.connected(e.gen)
		sawRetry := false
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				id, _ := strconv.Atoi(strings.TrimPrefix(line, "id: "))
				if id != last+1 {
					l.fail("%s: id %d after %d", name, id, last)
				}
				last = id
			case strings.HasPrefix(line, "data: "):
				if want := fmt.Sprintf("data: %d %d ", e.gen, e.pid); !strings.HasPrefix(line, want) {
					l.fail("%s: %q, want it to start with %q", name, line, want)
				}
				l.received(e.gen)
			case strings.HasPrefix(line, "retry: "):
				sawRetry = true
			}
		}
		resp.Body.Close()
		e.at = time.Now()
		if ctx.Err() != nil {
			break // the end of the test, not of the stream
		}
		e.clean = sc.Err() == nil && sawRetry
		if sc.Err() != nil {
			e.err = sc.Err().Error()
		}
		l.ended(e)
	}
	return last
}

// gensOf lists the generations of ends, in order, each once (a client
// whose reconnection finds an idle keep-alive connection to the old worker
// in its pool is served, and stopped at once, by the old worker once more).
func gensOf(ends []connEnd) []int {
	var g []int
	for _, e := range ends {
		if len(g) == 0 || g[len(g)-1] != e.gen {
			g = append(g, e.gen)
		}
	}
	return g
}

func oneOrMorePerGen(restarts int) []int {
	var g []int
	for gen := 1; gen <= restarts; gen++ {
		g = append(g, gen)
	}
	return g
}

// TestLongLivedAcrossRestarts: 20 WebSocket and 20 event-stream clients
// under start_server, across two restarts. Every WebSocket is closed with
// 1012 and every stream ends cleanly; no message is lost or echoed twice;
// no event id is skipped or repeated; every client ends on the newest
// generation; each old worker is gone within 1 s of its last connection's
// end.
func TestLongLivedAcrossRestarts(t *testing.T) {
	const nWS, nSSE, restarts = 20, 20, 2
	p, addr, pid := startStarter(t, "--probation=0", "--", binV1, "-drain", "10s")
	require.NoError(t, load.CheckLoopback(addr))

	ctx, stopClients := context.WithCancel(context.Background())
	defer stopClients()
	var wg sync.WaitGroup
	wsLogs, sseLogs := make([]*clientLog, nWS), make([]*clientLog, nSSE)
	unechoed := make([][]string, nWS)
	for i := range nWS {
		wsLogs[i] = &clientLog{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			unechoed[i] = wsClient(ctx, addr, fmt.Sprintf("ws%d", i), wsLogs[i])
		}()
	}
	lastIDs := make([]int, nSSE)
	for i := range nSSE {
		sseLogs[i] = &clientLog{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			lastIDs[i] = sseClient(ctx, addr, fmt.Sprintf("sse%d", i), sseLogs[i])
		}()
	}
	all := append(slices.Clone(wsLogs), sseLogs...)
	// waitAllOn waits until every client has a connection to generation gen.
	waitAllOn := func(gen int) {
		t.Helper()
		deadline := time.Now().Add(proc.ReadyTimeout)
		for {
			n := 0
			for _, l := range all {
				if l.on() == gen {
					n++
				}
			}
			if n == len(all) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d clients on generation %d after %v", n, len(all), gen, proc.ReadyTimeout)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	// waitTraffic waits until every client has received at least 5
	// messages from generation gen: the restart comes in mid-conversation.
	waitTraffic := func(gen int) {
		t.Helper()
		deadline := time.Now().Add(proc.ReadyTimeout)
		for i, l := range all {
			for l.gotOn(gen) < 5 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			require.GreaterOrEqual(t, l.gotOn(gen), 5, "client %d: messages from generation %d", i, gen)
		}
	}

	waitAllOn(1)
	for gen := 2; gen <= restarts+1; gen++ {
		waitTraffic(gen - 1)
		old := pid
		p.SignalT(t, syscall.SIGHUP)
		m := p.WaitMatchesT(t, listeningRe, gen)
		pid, _ = strconv.Atoi(m[gen-1][2])
		waitAllOn(gen)
		// The old worker exits once its connections are closed.
		deadline := time.Now().Add(proc.ExitTimeout)
		for !proc.Exited(old) && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		gone := time.Now()
		require.True(t, proc.Exited(old), "old worker %d still running", old)
		var last time.Time
		for _, l := range all {
			l.mu.Lock()
			for _, e := range l.ends {
				if e.pid == old && e.at.After(last) {
					last = e.at
				}
			}
			l.mu.Unlock()
		}
		t.Logf("generation %d (pid %d): gone %v after its last connection ended", gen-1, old, gone.Sub(last).Round(time.Millisecond))
		assert.Less(t, gone.Sub(last), time.Second, "generation %d (pid %d) exits at once", gen-1, old)
		p.WaitLineT(t, fmt.Sprintf(`^old worker %d died, status:0$`, old))
	}
	stopClients()
	wg.Wait()

	for i, l := range wsLogs {
		assert.Empty(t, l.lost, "ws%d", i)
		assert.Empty(t, unechoed[i], "ws%d: messages never echoed", i)
		assert.Equal(t, oneOrMorePerGen(restarts), gensOf(l.ends), "ws%d: closed by every old generation: %+v", i, l.ends)
		for _, e := range l.ends {
			assert.Equal(t, websocket.StatusServiceRestart, e.code, "ws%d: close of generation %d: %+v", i, e.gen, e)
		}
		assert.Equal(t, restarts+1, l.on(), "ws%d ends on the newest generation", i)
	}
	for i, l := range sseLogs {
		assert.Empty(t, l.lost, "sse%d", i)
		assert.Equal(t, oneOrMorePerGen(restarts), gensOf(l.ends), "sse%d: ended by every old generation: %+v", i, l.ends)
		for _, e := range l.ends {
			assert.True(t, e.clean, "sse%d: the stream of generation %d ended with a retry line and a proper end: %+v", i, e.gen, e)
		}
		assert.Positive(t, lastIDs[i])
		assert.Equal(t, restarts+1, l.on(), "sse%d ends on the newest generation", i)
	}
	t.Logf("event ids per stream at the end: %v", lastIDs)
}

// TestCloseSpreadWebSockets: with -close-spread, the old worker closes its
// WebSockets one by one over the window, all with 1012, and waits for the
// last one before it exits. (A drain that does not wait for hijacked
// connections exits at once: the later clients see 1006.)
func TestCloseSpreadWebSockets(t *testing.T) {
	const n, spread = 10, 400 * time.Millisecond
	p, addr, old := startStarter(t, "--probation=0", "--", binV1, "-drain", "10s", "-close-spread", spread.String())
	ctx, stopClients := context.WithCancel(context.Background())
	defer stopClients()
	var wg sync.WaitGroup
	logs := make([]*clientLog, n)
	for i := range n {
		logs[i] = &clientLog{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			wsClient(ctx, addr, fmt.Sprintf("ws%d", i), logs[i])
		}()
	}
	deadline := time.Now().Add(proc.ReadyTimeout)
	for i, l := range logs {
		for l.on() != 1 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		require.Equal(t, 1, l.on(), "ws%d is not on generation 1 after %v", i, proc.ReadyTimeout)
	}
	p.SignalT(t, syscall.SIGHUP)
	p.WaitMatchesT(t, listeningRe, 2) // the new worker listens
	p.WaitLineT(t, fmt.Sprintf(`^old worker %d died, status:0$`, old))
	gone := time.Now()
	stopClients()
	wg.Wait()

	var first, last time.Time
	for i, l := range logs {
		assert.Empty(t, l.lost, "ws%d", i)
		require.NotEmpty(t, l.ends, "ws%d", i)
		for _, e := range l.ends {
			assert.Equal(t, websocket.StatusServiceRestart, e.code, "ws%d: %+v", i, e)
			if first.IsZero() || e.at.Before(first) {
				first = e.at
			}
			if e.at.After(last) {
				last = e.at
			}
		}
	}
	t.Logf("closes from %v to %v after the first; old worker reaped %v after the last",
		time.Duration(0), last.Sub(first).Round(time.Millisecond), gone.Sub(last).Round(time.Millisecond))
	// The i-th of n at i*spread/n: the last at 9/10 of the window.
	assert.GreaterOrEqual(t, last.Sub(first), spread*8/10, "the closes are spread over the window")
	assert.Less(t, gone.Sub(last), time.Second)
}

// TestLongLivedEndpoints: /events resumes after Last-Event-ID and refuses
// bad input; /ws echoes verbatim (after its hello, when asked); /live is a
// page that loads nothing from elsewhere.
func TestLongLivedEndpoints(t *testing.T) {
	p := proc.StartT(t, binV1, "-addr", "127.0.0.1:0")
	m := p.WaitLineT(t, listeningRe)
	addr, pid := m[1], m[2]
	// Every request, read and dial below ends within this.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	for _, bad := range []struct{ path, lastID string }{
		{"/events?ms=0", ""}, {"/events?ms=60001", ""}, {"/events?ms=x", ""}, {"/events", "x"}, {"/events", "-1"},
	} {
		req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+bad.path, nil)
		require.NoError(t, err)
		req.Header.Set("Last-Event-ID", bad.lastID)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%+v", bad)
	}

	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/events?ms=5", nil)
	require.NoError(t, err)
	req.Header.Set("Last-Event-ID", "41")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	br := bufio.NewReader(resp.Body)
	var got []string
	for len(got) < 6 {
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		got = append(got, line)
	}
	resp.Body.Close()
	want := "data: 0 " + pid + " v1\n"
	assert.Equal(t, []string{"id: 42\n", want, "\n", "id: 43\n", want, "\n"}, got)

	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws?hello=1", nil)
	require.NoError(t, err)
	defer c.CloseNow()
	for _, want := range []string{"hello 0 " + pid + " v1", "héllo, 世界", ""} {
		if !strings.HasPrefix(want, "hello ") {
			require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(want)))
		}
		typ, msg, err := c.Read(ctx)
		require.NoError(t, err)
		assert.Equal(t, websocket.MessageText, typ)
		assert.Equal(t, want, string(msg))
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))

	resp, body := get(t, addr, "/live")
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, body, "new WebSocket(")
	assert.Contains(t, body, "new EventSource(")
	assert.NotRegexp(t, `(?i)(src|href)=["']?(https?:)?//`, body, "nothing from the internet")
}

// TestLongLivedCutAtDeadline: a WebSocket client that never answers the
// close frame (it stopped reading) is cut at the drain deadline, and the
// worker's log says so; the exit status is 1 (a cut drain).
func TestLongLivedCutAtDeadline(t *testing.T) {
	p := proc.StartT(t, binV1, "-addr", "127.0.0.1:0", "-drain", "1s")
	addr := p.WaitLineT(t, listeningRe)[1]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
	require.NoError(t, err)
	defer c.CloseNow()
	// No Read from here on: the client does not see the close frame, so
	// it does not answer it (the server's Close waits up to 5 s for that).
	begin := time.Now()
	p.SignalT(t, syscall.SIGTERM)
	assert.Equal(t, 1, p.WaitT(t))
	assert.Less(t, time.Since(begin), 4*time.Second, "cut at the 1 s deadline, not after the close handshake's 5 s")
	p.WaitLineT(t, `drain cut short after 1(\.\d+)?s, 1 connections closed, 1 of them long-lived: told to end, not closed in time$`)
	p.WaitLineT(t, `exiting: listener: drain deadline passed with 1 connections open \(1 long-lived\)`)
}
