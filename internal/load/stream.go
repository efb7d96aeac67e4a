package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Long-lived connections: WebSocket (GET /ws, an echo) and Server-Sent
// Events (GET /events). A stream client does what a browser does across a
// restart, and counts every way the restart could hurt it:
//
//   - WebSocket: it sends a numbered text message every Interval and expects
//     each one echoed verbatim, once, in order. When the server closes (1012
//     Service Restart or 1001 Going Away, or anything else), it reconnects
//     and first resends what was not echoed yet. A connection that ends
//     without a close frame (a reset, an EOF) is an abnormal close; an echo
//     that skips a message counts that message lost; an echo of a message
//     already echoed is a duplicate.
//   - SSE: it reads events (id: N, data: GEN PID ...) and, when the response
//     ends, waits the server's retry: time and reconnects with
//     Last-Event-ID, like EventSource. An id that skips ahead is a gap, an
//     id already seen a duplicate; a response that ends before the end of
//     its chunked body is an abnormal close.

// Proto is a kind of long-lived connection.
type Proto string

// The protocols a stream run speaks.
const (
	WS  Proto = "ws"  // WebSocket echo at /ws
	SSE Proto = "sse" // Server-Sent Events at /events
)

// StreamConfig says how many long-lived clients of each kind to run against
// which server, and for how long at most.
type StreamConfig struct {
	Addr        string        // host:port; the host must be a loopback address
	WS, SSE     int           // clients of each kind
	Interval    time.Duration // WebSocket: a message per client every Interval; SSE: asks ?ms= for events; 100ms if zero
	MaxDuration time.Duration // wall-clock bound of the whole run
	Timeout     time.Duration // connect and handshake, and the wait for the last echoes at the end; 5s if zero
	// Jitter, if positive, makes each client wait a random time in
	// [0, Jitter) before it reconnects, on top of SSE's retry: time: the
	// client side of the cure for a reconnect storm.
	Jitter time.Duration
	// Ramp spreads the clients' first connections evenly over this time,
	// and StartConcurrency (64 if zero) caps how many are in flight at
	// once, so that the run's own start is not a storm of connects.
	// Reconnections are not paced: they are what is measured.
	Ramp             time.Duration
	StartConcurrency int
	// SSERetry is the SSE reconnection time until the server sends retry:
	// (EventSource's default is a few seconds); 3s if zero.
	SSERetry time.Duration
	// Generation, if set, names the generation a connection counts for
	// from its X-Pid and X-Generation (0 if absent); as in Config. It is
	// called with the run's lock held.
	Generation func(pid, gen int) int
}

// ProtoReport is what the clients of one protocol saw.
type ProtoReport struct {
	Clients  int
	Connects int           // connections opened (handshake done)
	Codes    map[int]int   // WebSocket: close codes the server sent
	Ends     int           // SSE: responses that ended cleanly (the chunked body's last chunk)
	Retry    int           // SSE: of those, how many had said retry: first
	Abnormal map[Class]int // connections that ended without a close frame (WebSocket) or before the end of the body (SSE)
	Dial     map[Class]int // connects or handshakes that failed (Non2xx: not 101 or 200 text/event-stream)

	// WebSocket messages.
	Sent, Echoed, Resent, Lost, Duplicated, Garbled int
	// Unconfirmed: not echoed when the run stopped while the client was
	// between connections (a run that ended early); not a failure.
	Unconfirmed int
	// Reconnect: from the end of a connection to the next one open (SSE:
	// the retry: wait included). Filled in once the run has ended.
	Reconnect Latencies
	// SSE events.
	Events, Gaps, DupIDs int
}

// OtherCodes counts close codes other than 1012 (Service Restart) and 1001
// (Going Away), the two a restarting server may send.
func (p ProtoReport) OtherCodes() int {
	n := 0
	for c, k := range p.Codes {
		if c != int(websocket.StatusServiceRestart) && c != int(websocket.StatusGoingAway) {
			n += k
		}
	}
	return n
}

// AbnormalCount is the number of abnormal closes of every class.
func (p ProtoReport) AbnormalCount() int { return sum(p.Abnormal) }

// DialErrors is the number of failed connects of every class.
func (p ProtoReport) DialErrors() int { return sum(p.Dial) }

func sum(m map[Class]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// StreamReport is what the stream clients saw. Percentiles are filled in
// only once the run has ended.
type StreamReport struct {
	WS, SSE   ProtoReport
	Open      map[int]int           // connections open now, by generation
	OpenWS    map[int]int           // of those, WebSocket
	ByGen     map[int]int           // connections opened, by generation
	PIDGen    map[int]int           // X-Pid -> generation
	FirstAt   map[int]time.Duration // generation -> its first connection, since the start
	LastClose map[int]time.Duration // generation -> when its last open connection ended (while none is open)
	Elapsed   time.Duration

	// Reconnect is the time from the end of a connection to the client's
	// next open one (its retry: or jitter wait included); Connect the time
	// a reconnection took from the start of its connect to the end of the
	// handshake (the part a reconnect storm makes slow: a dropped SYN is
	// sent again after 1s). The clients' first connections do not count.
	Reconnect, Connect Latencies
	SlowConnects       int // reconnections whose connect took 1s or more
	Reconnects         int
	Samples            []string // the first few unexpected errors, verbatim
}

// Latencies are percentiles of a set of durations.
type Latencies struct{ P50, P99, Max time.Duration }

// Failures counts everything that went wrong, of every kind and protocol.
func (r StreamReport) Failures() int {
	n := 0
	for _, p := range []ProtoReport{r.WS, r.SSE} {
		n += p.AbnormalCount() + p.OtherCodes() + p.DialErrors() + p.Lost + p.Duplicated + p.Garbled + p.Gaps + p.DupIDs
	}
	return n
}

// StreamRun is a run of stream clients in progress.
type StreamRun struct {
	cfg    StreamConfig
	start  time.Time
	stopC  chan struct{}
	doneC  chan struct{}
	once   sync.Once
	hc     *http.Client
	dialer *net.Dialer
	// startSem paces the first connects (StartConcurrency).
	startSem chan struct{}
	// stopCtx is done when the run stops (with stopC).
	stopCtx    context.Context
	cancelStop context.CancelFunc

	sent, echoed, events atomic.Int64 // hot counters, outside the lock

	mu        sync.Mutex
	end       time.Time
	ws, sse   ProtoReport
	open      map[int]int
	openWS    map[int]int
	byGen     map[int]int
	pidGen    map[int]int
	firstAt   map[int]time.Duration
	lastClose map[int]time.Duration
	reconnect []time.Duration
	reconnCon []time.Duration // connect times of reconnections only
	reconnWS  []time.Duration // reconnect times of WebSocket clients only
	reconnSSE []time.Duration // and of SSE clients
	samples   []string
}

// StartStreams validates cfg and starts the clients. The run ends by itself
// after MaxDuration, or when Stop is called.
func StartStreams(cfg StreamConfig) (*StreamRun, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = 100 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.SSERetry <= 0 {
		cfg.SSERetry = 3 * time.Second
	}
	if cfg.WS < 0 || cfg.SSE < 0 || cfg.WS+cfg.SSE == 0 || cfg.MaxDuration <= 0 {
		return nil, fmt.Errorf("load: streams: want some clients and a positive MaxDuration, got %d WebSocket, %d SSE, %v",
			cfg.WS, cfg.SSE, cfg.MaxDuration)
	}
	if err := CheckLoopback(cfg.Addr); err != nil {
		return nil, err
	}
	r := &StreamRun{cfg: cfg, start: time.Now(), stopC: make(chan struct{}), doneC: make(chan struct{}),
		ws:   ProtoReport{Clients: cfg.WS, Codes: map[int]int{}, Abnormal: map[Class]int{}, Dial: map[Class]int{}},
		sse:  ProtoReport{Clients: cfg.SSE, Codes: map[int]int{}, Abnormal: map[Class]int{}, Dial: map[Class]int{}},
		open: map[int]int{}, openWS: map[int]int{}, byGen: map[int]int{}, pidGen: map[int]int{},
		firstAt: map[int]time.Duration{}, lastClose: map[int]time.Duration{}}
	if cfg.StartConcurrency <= 0 {
		cfg.StartConcurrency = 64
	}
	r.cfg = cfg
	r.startSem = make(chan struct{}, cfg.StartConcurrency)
	r.stopCtx, r.cancelStop = context.WithCancel(context.Background())
	r.dialer = &net.Dialer{Timeout: cfg.Timeout}
	// One transport for every WebSocket handshake; a hijacked connection
	// never goes back to its pool, so each handshake dials anew.
	r.hc = &http.Client{Transport: &http.Transport{DialContext: r.dialer.DialContext, DisableKeepAlives: true}}
	var wg sync.WaitGroup
	n := cfg.WS + cfg.SSE
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !r.pause(cfg.Ramp * time.Duration(i) / time.Duration(n)) {
				return
			}
			if i < cfg.WS {
				r.wsClient(i)
			} else {
				r.sseClient()
			}
		}()
	}
	afterClients(&wg, cfg.MaxDuration, r.halt, func() {
		r.mu.Lock()
		r.end = time.Now()
		r.mu.Unlock()
		close(r.doneC)
	})
	return r, nil
}

// Stop stops the clients (each waits up to Timeout for its last echoes,
// then closes with 1000) and returns the final report.
func (r *StreamRun) Stop() StreamReport {
	r.halt()
	<-r.doneC
	return r.Snapshot()
}

// Done is closed when every client has returned.
func (r *StreamRun) Done() <-chan struct{} { return r.doneC }

// Started is when the run started; times in the report count from it.
func (r *StreamRun) Started() time.Time { return r.start }

func (r *StreamRun) halt() {
	r.once.Do(func() {
		close(r.stopC)
		r.cancelStop()
	})
}

func (r *StreamRun) stopping() bool {
	select {
	case <-r.stopC:
		return true
	default:
		return false
	}
}

// pause waits d, or less if the run stops; it reports whether the run goes on.
func (r *StreamRun) pause(d time.Duration) bool {
	if d <= 0 {
		return !r.stopping()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.stopC:
		return false
	case <-t.C:
		return true
	}
}

// acquire takes one of StartConcurrency places for a client's first
// connect; it reports false if the run stops first.
func (r *StreamRun) acquire() bool {
	select {
	case r.startSem <- struct{}{}:
		return true
	case <-r.stopC:
		return false
	}
}

func (r *StreamRun) release() { <-r.startSem }

func (r *StreamRun) jitter() time.Duration {
	if r.cfg.Jitter <= 0 {
		return 0
	}
	return rand.N(r.cfg.Jitter)
}

func (r *StreamRun) proto(p Proto) *ProtoReport {
	if p == WS {
		return &r.ws
	}
	return &r.sse
}

// opened records a connection of p that was dialled at begin and is open
// now, to the worker its response headers h name; lastEnd is when the
// client's previous connection ended (zero: this is its first). It returns
// the generation the connection counts for.
func (r *StreamRun) opened(p Proto, h http.Header, begin, lastEnd time.Time) int {
	now := time.Now()
	pid, gen := headerInts(h)
	connect := now.Sub(begin)
	var reconnect time.Duration
	if !lastEnd.IsZero() {
		reconnect = now.Sub(lastEnd)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cfg.Generation != nil {
		gen = r.cfg.Generation(pid, gen)
	}
	r.proto(p).Connects++
	if r.byGen[gen] == 0 {
		r.firstAt[gen] = time.Since(r.start)
	}
	r.byGen[gen]++
	r.open[gen]++
	if p == WS {
		r.openWS[gen]++
	}
	r.pidGen[pid] = gen
	if reconnect > 0 {
		r.reconnect = append(r.reconnect, reconnect)
		r.reconnCon = append(r.reconnCon, connect)
		if p == WS {
			r.reconnWS = append(r.reconnWS, reconnect)
		} else {
			r.reconnSSE = append(r.reconnSSE, reconnect)
		}
	}
	return gen
}

// closed records the end of a connection of p to generation gen; how is
// applied to the report under the lock.
func (r *StreamRun) closed(p Proto, gen int, how func(*ProtoReport)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.open[gen]--
	if p == WS {
		r.openWS[gen]--
	}
	if r.open[gen] == 0 {
		r.lastClose[gen] = time.Since(r.start)
	}
	if how != nil {
		how(r.proto(p))
	}
}

// count applies f to p's report under the lock.
func (r *StreamRun) count(p Proto, f func(*ProtoReport)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r.proto(p))
}

// sample keeps the first few unexpected errors of each kind (what, e.g.
// "ws dial") verbatim.
func (r *StreamRun) sample(what string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.samples {
		if strings.HasPrefix(s, what+": ") {
			n++
		}
	}
	if n < 3 {
		r.samples = append(r.samples, what+": "+err.Error())
	}
}

// Snapshot returns the report so far.
func (r *StreamRun) Snapshot() StreamReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := StreamReport{WS: copyProto(r.ws), SSE: copyProto(r.sse), Open: copyMap(r.open), OpenWS: copyMap(r.openWS),
		ByGen: copyMap(r.byGen), PIDGen: copyMap(r.pidGen), FirstAt: copyMap(r.firstAt), LastClose: copyMap(r.lastClose),
		Reconnects: len(r.reconnect), Samples: append([]string(nil), r.samples...), Elapsed: time.Since(r.start)}
	rep.WS.Sent, rep.WS.Echoed, rep.SSE.Events = int(r.sent.Load()), int(r.echoed.Load()), int(r.events.Load())
	for g, n := range rep.Open {
		if n == 0 {
			delete(rep.Open, g)
			delete(rep.OpenWS, g)
		}
	}
	for _, d := range r.reconnCon {
		if d >= time.Second {
			rep.SlowConnects++
		}
	}
	select {
	case <-r.doneC:
		rep.Elapsed = r.end.Sub(r.start)
		rep.Reconnect, rep.Connect = latencies(r.reconnect), latencies(r.reconnCon)
		rep.WS.Reconnect, rep.SSE.Reconnect = latencies(r.reconnWS), latencies(r.reconnSSE)
	default:
	}
	return rep
}

func copyProto(p ProtoReport) ProtoReport {
	p.Codes, p.Abnormal, p.Dial = copyMap(p.Codes), copyMap(p.Abnormal), copyMap(p.Dial)
	return p
}

// Percentiles returns the percentiles of d (which it does not change).
func Percentiles(d []time.Duration) Latencies { return latencies(d) }

func latencies(d []time.Duration) Latencies {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return Latencies{P50: percentile(s, 50), P99: percentile(s, 99), Max: percentile(s, 100)}
}

// Durations returns, for every reconnection so far, its reconnect time and
// its connect time (the same index is the same reconnection).
func (r *StreamRun) Durations() (reconnect, connect []time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.reconnect...), append([]time.Duration(nil), r.reconnCon...)
}

// headerInts reads X-Pid and X-Generation.
func headerInts(h http.Header) (pid, gen int) {
	pid, _ = strconv.Atoi(h.Get("X-Pid"))
	gen, _ = strconv.Atoi(h.Get("X-Generation"))
	return pid, gen
}

// A wsClient's messages not yet echoed, oldest first.
type pending struct {
	mu    sync.Mutex
	msgs  []string
	next  int           // the last message's number
	empty chan struct{} // closed when msgs becomes empty; replaced when one is added
}

// wsClient is one WebSocket client: connect, send and check echoes until
// the connection ends, reconnect, resend.
func (r *StreamRun) wsClient(id int) {
	p := &pending{empty: make(chan struct{})}
	close(p.empty)
	var lastEnd time.Time // end of the previous connection; zero before the first
	waited := false       // the run ended while connected: the last echoes were waited for
	for !r.stopping() {
		first := lastEnd.IsZero()
		if first && !r.acquire() {
			break
		}
		begin := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Timeout)
		c, resp, err := websocket.Dial(ctx, "ws://"+r.cfg.Addr+"/ws", &websocket.DialOptions{HTTPClient: r.hc})
		cancel()
		if first {
			r.release()
		}
		if err != nil {
			r.count(WS, func(pr *ProtoReport) { pr.Dial[dialClass(err, resp)]++ })
			if dialClass(err, resp) == Other {
				r.sample("ws dial", err)
			}
			if !r.pause(10 * time.Millisecond) {
				break
			}
			continue
		}
		gen := r.opened(WS, resp.Header, begin, lastEnd)
		how := r.wsConn(c, id, p)
		lastEnd = time.Now()
		r.closed(WS, gen, how)
		if r.stopping() {
			waited = how == nil
			break
		}
		if !r.pause(r.jitter()) {
			break
		}
	}
	// What was never echoed on a connection that waited for it is lost.
	// Without a connection at the end (the run stopped while the client
	// was reconnecting) it was not sent again: unconfirmed, not lost.
	p.mu.Lock()
	n := len(p.msgs)
	p.mu.Unlock()
	if n > 0 {
		r.count(WS, func(pr *ProtoReport) {
			if waited {
				pr.Lost += n
			} else {
				pr.Unconfirmed += n
			}
		})
	}
}

// dialClass names a failed connect or handshake: a status other than the
// one wanted is Non2xx.
func dialClass(err error, resp *http.Response) Class {
	if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
		return Non2xx
	}
	if strings.Contains(err.Error(), "server closed idle connection") {
		// http.Transport's words for a connection the server closed
		// before it answered the handshake: an EOF.
		return EOF
	}
	return Classify(err)
}

// wsConn runs one WebSocket connection until it ends: a writer resends
// what is pending, then sends a message every Interval; the reader checks
// the echoes. It returns how the connection ended, as a change to the
// report (nil if we closed it because the run is over).
func (r *StreamRun) wsConn(c *websocket.Conn, id int, p *pending) func(*ProtoReport) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var byUs atomic.Bool // we closed it (the run is over)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		p.mu.Lock()
		resend := append([]string(nil), p.msgs...)
		p.mu.Unlock()
		if len(resend) > 0 {
			r.count(WS, func(pr *ProtoReport) { pr.Resent += len(resend) })
		}
		for _, m := range resend {
			if c.Write(ctx, websocket.MessageText, []byte(m)) != nil {
				return
			}
		}
		tick := time.NewTicker(r.cfg.Interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-r.stopC:
				// No new messages; wait for the echoes of the last ones,
				// then say goodbye.
				p.mu.Lock()
				empty := p.empty
				p.mu.Unlock()
				t := time.NewTimer(r.cfg.Timeout)
				select {
				case <-empty:
				case <-ctx.Done():
				case <-t.C:
				}
				t.Stop()
				byUs.Store(true)
				c.Close(websocket.StatusNormalClosure, "done")
				return
			case <-tick.C:
			}
			p.mu.Lock()
			p.next++
			m := fmt.Sprintf("c%d m%d", id, p.next)
			if len(p.msgs) == 0 {
				p.empty = make(chan struct{})
			}
			p.msgs = append(p.msgs, m)
			p.mu.Unlock()
			r.sent.Add(1)
			if c.Write(ctx, websocket.MessageText, []byte(m)) != nil {
				return // the reader sees why
			}
		}
	}()
	var err error
	for {
		var typ websocket.MessageType
		var b []byte
		typ, b, err = c.Read(ctx)
		if err != nil {
			break
		}
		if typ != websocket.MessageText {
			r.count(WS, func(pr *ProtoReport) { pr.Garbled++ })
			continue
		}
		lost, dup, garbled := p.echo(string(b))
		if lost+dup+garbled > 0 {
			r.count(WS, func(pr *ProtoReport) { pr.Lost += lost; pr.Duplicated += dup; pr.Garbled += garbled })
		}
		if lost+dup+garbled == 0 || lost > 0 {
			r.echoed.Add(1)
		}
	}
	cancel()
	c.CloseNow()
	<-writerDone
	if byUs.Load() {
		return nil
	}
	if code := websocket.CloseStatus(err); code != -1 {
		return func(pr *ProtoReport) { pr.Codes[int(code)]++ }
	}
	cl := Classify(err)
	if cl == Other && !r.stopping() {
		r.sample("ws", err)
	}
	return func(pr *ProtoReport) { pr.Abnormal[cl]++ }
}

// echo takes an echoed message off the pending list. An echo of a later
// message than the oldest pending one means the ones before it were
// skipped: lost. An echo of nothing pending is a duplicate (or, if it is
// no message of ours at all, garbled).
func (p *pending) echo(m string) (lost, dup, garbled int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer func() {
		if len(p.msgs) == 0 {
			select {
			case <-p.empty:
			default:
				close(p.empty)
			}
		}
	}()
	for i, x := range p.msgs {
		if x == m {
			lost = i
			p.msgs = p.msgs[i+1:]
			return lost, 0, 0
		}
	}
	var c, seq int
	if _, err := fmt.Sscanf(m, "c%d m%d", &c, &seq); err == nil && fmt.Sprintf("c%d m%d", c, seq) == m && seq <= p.next {
		return 0, 1, 0
	}
	return 0, 0, 1
}

// sseClient is one EventSource: connect, read events until the response
// ends, wait retry: (and the jitter), reconnect with Last-Event-ID.
func (r *StreamRun) sseClient() {
	retry := r.cfg.SSERetry
	lastID, highest := "", 0
	var lastEnd time.Time
	wait := false
	for !r.stopping() {
		if wait && !r.pause(retry+r.jitter()) {
			break
		}
		wait = true
		first := lastEnd.IsZero()
		if first && !r.acquire() {
			break
		}
		begin := time.Now()
		conn, resp, err := r.sseOpen(lastID)
		if first {
			r.release()
		}
		if err != nil {
			r.count(SSE, func(pr *ProtoReport) { pr.Dial[sseDialClass(err, resp)]++ })
			if sseDialClass(err, resp) == Other {
				r.sample("sse connect", err)
			}
			continue
		}
		gen := r.opened(SSE, resp.Header, begin, lastEnd)
		stop := context.AfterFunc(r.stopCtx, func() { conn.Close() })
		var how func(*ProtoReport)
		how, retry, lastID, highest = r.sseRead(resp.Body, retry, lastID, highest)
		stop()
		conn.Close()
		lastEnd = time.Now()
		if r.stopping() {
			how = nil
		}
		r.closed(SSE, gen, how)
	}
}

var errNotEventStream = errors.New("not a 200 text/event-stream response")

func sseDialClass(err error, resp *http.Response) Class {
	if errors.Is(err, errNotEventStream) {
		return Non2xx
	}
	return Classify(err)
}

// sseOpen connects and sends GET /events, with Last-Event-ID if there was
// one, and reads the response headers.
func (r *StreamRun) sseOpen(lastID string) (net.Conn, *http.Response, error) {
	conn, err := r.dialer.Dial("tcp", r.cfg.Addr)
	if err != nil {
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(r.cfg.Timeout))
	req := "GET /events?ms=" + strconv.Itoa(int(r.cfg.Interval/time.Millisecond)) + " HTTP/1.1\r\nHost: " + r.cfg.Addr +
		"\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n"
	if lastID != "" {
		req += "Last-Event-ID: " + lastID + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		conn.Close()
		return nil, nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		conn.Close()
		return nil, resp, fmt.Errorf("%w: %s, Content-Type %q", errNotEventStream, resp.Status, resp.Header.Get("Content-Type"))
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, resp, nil
}

// sseRead reads events from body until it ends, checking ids against the
// highest seen, and returns how it ended and the client's new state.
func (r *StreamRun) sseRead(body io.Reader, retry time.Duration, lastID string, highest int) (
	how func(*ProtoReport), _ time.Duration, _ string, _ int) {
	br := bufio.NewReader(body)
	sawRetry := false
	id, hasID, hasData := "", false, false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) && line == "" {
				// The zero-length chunk: a clean end.
				return func(pr *ProtoReport) {
					pr.Ends++
					if sawRetry {
						pr.Retry++
					}
				}, retry, lastID, highest
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // a line cut off
			}
			cl := Classify(err)
			if cl == Other && !r.stopping() {
				r.sample("sse stream", err)
			}
			return func(pr *ProtoReport) { pr.Abnormal[cl]++ }, retry, lastID, highest
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" { // dispatch
			if hasID {
				lastID = id
				if n, err := strconv.Atoi(id); err == nil {
					switch {
					case n <= highest:
						r.count(SSE, func(pr *ProtoReport) { pr.DupIDs++ })
					case n > highest+1:
						gap := n - highest - 1
						r.count(SSE, func(pr *ProtoReport) { pr.Gaps += gap })
					}
					highest = max(highest, n)
				}
			}
			if hasData {
				r.events.Add(1)
			}
			hasID, hasData = false, false
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			id, hasID = value, true
		case "data":
			hasData = true
		case "retry":
			if ms, err := strconv.Atoi(value); err == nil && ms >= 0 {
				retry, sawRetry = time.Duration(ms)*time.Millisecond, true
			}
		}
	}
}

// String is a summary of a stream run, a few lines per protocol.
func (r StreamReport) String() string {
	var b strings.Builder
	if r.WS.Clients > 0 {
		w := r.WS
		fmt.Fprintf(&b, "websocket: %d clients, connections %d; closes %s; other codes %d, abnormal %d%s, dial errors %d%s\n",
			w.Clients, w.Connects, codes(w.Codes), w.OtherCodes(), w.AbnormalCount(), classes(w.Abnormal), w.DialErrors(), classes(w.Dial))
		fmt.Fprintf(&b, "websocket messages: sent %d, echoed %d, resent %d; lost %d, duplicated %d, garbled %d\n",
			w.Sent, w.Echoed, w.Resent, w.Lost, w.Duplicated, w.Garbled)
		if w.Unconfirmed > 0 {
			fmt.Fprintf(&b, "websocket messages unconfirmed (the run stopped while their clients reconnected): %d\n", w.Unconfirmed)
		}
		fmt.Fprintf(&b, "websocket reconnect: p50 %v, p99 %v, max %v\n", rnd(w.Reconnect.P50), rnd(w.Reconnect.P99), rnd(w.Reconnect.Max))
	}
	if r.SSE.Clients > 0 {
		s := r.SSE
		fmt.Fprintf(&b, "sse: %d clients, connections %d; clean ends %d (after retry: %d); abnormal %d%s, dial errors %d%s\n",
			s.Clients, s.Connects, s.Ends, s.Retry, s.AbnormalCount(), classes(s.Abnormal), s.DialErrors(), classes(s.Dial))
		fmt.Fprintf(&b, "sse events: %d; id gaps %d, duplicates %d\n", s.Events, s.Gaps, s.DupIDs)
		fmt.Fprintf(&b, "sse reconnect (retry: wait included): p50 %v, p99 %v, max %v\n", rnd(s.Reconnect.P50), rnd(s.Reconnect.P99), rnd(s.Reconnect.Max))
	}
	fmt.Fprintf(&b, "reconnections %d; their connect (TCP + handshake) p50 %v, p99 %v, max %v; of them 1s or more: %d\n",
		r.Reconnects, rnd(r.Connect.P50), rnd(r.Connect.P99), rnd(r.Connect.Max), r.SlowConnects)
	for _, s := range r.Samples {
		fmt.Fprintf(&b, "sample error: %s\n", s)
	}
	return b.String()
}

func rnd(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}

// codes lists close codes as "1012 x300", or "none".
func codes(m map[int]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, c := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%d x%d", c, m[c]))
	}
	return strings.Join(parts, ", ")
}

// classes lists the non-zero classes as " (reset 2, eof 1)", or "".
func classes(m map[Class]int) string {
	var parts []string
	for _, c := range Classes {
		if m[c] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c, m[c]))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
