// Package load puts HTTP load on a server on loopback and reports what the
// clients saw: how many requests succeeded, every error by class, which
// process served each response, and latency percentiles.
//
// It speaks HTTP/1.1 itself over net.Conn instead of using http.Client on
// purpose: http.Transport silently retries a GET that failed on a reused
// keep-alive connection, which would hide exactly the errors this workshop is
// about. Like wrk or hey, a request here is tried once and its fate counted.
package load

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Class is a kind of failed request.
type Class string

// The error classes, in the order reports print them.
const (
	Refused Class = "refused" // connect() refused: nobody held the socket
	Reset   Class = "reset"   // connection reset by peer
	EOF     Class = "eof"     // connection closed before a full response
	Timeout Class = "timeout" // no (full) response within Config.Timeout
	Non2xx  Class = "non2xx"  // a response with a status outside 200-299
	Other   Class = "other"   // anything else (the first few are kept in Report.Samples)
)

// RefusedPause is how long a client waits after a refused connect before it
// tries again.
const RefusedPause = time.Millisecond

// Classes lists every Class in report order.
var Classes = []Class{Refused, Reset, EOF, Timeout, Non2xx, Other}

// Config says what load to put on which server, and for how long at most.
// Both bounds are required: a run always ends by itself.
type Config struct {
	Addr        string        // host:port; the host must be a loopback address
	Path        string        // request path; "/" if empty
	Clients     int           // concurrent clients (connections)
	MaxRequests int           // total requests, all clients together
	MaxDuration time.Duration // wall-clock bound of the whole run
	KeepAlive   bool          // reuse connections (HTTP/1.1 keep-alive) or one request per connection
	Timeout     time.Duration // per request, connect to last byte; 5s if zero

	// Generation, if set, names the generation a 2xx response counts for in
	// Report.ByGen, from its X-Pid and X-Generation (0 if absent). It is
	// called with the run's lock held, from every client: it must be fast
	// and must not call the Run. Nil counts by X-Generation and leaves out
	// responses without one.
	Generation func(pid, gen int) int
	// CountHeader, if set, names a response header whose values are counted
	// in Report.ByHeader (e.g. one a load balancer adds to say which server
	// answered).
	CountHeader string
}

// Run is a load run in progress. All methods are safe to call from any
// goroutine.
type Run struct {
	cfg     Config
	start   time.Time
	stopC   chan struct{} // closed by Stop: no new requests start
	doneC   chan struct{} // closed when every client has returned
	stopped sync.Once
	issued  atomic.Int64 // requests handed out, for the MaxRequests bound
	end     time.Time    // when the last client returned; zero while running (guarded by mu)

	mu        sync.Mutex
	sent, ok  int
	errs      map[Class]int
	byPID     map[int]int
	byGen     map[int]int
	byVersion map[string]int
	byHeader  map[string]int
	firstPID  int
	pidGen    map[int]int
	firstAt   map[int]time.Duration
	genLat    map[int][]time.Duration
	latencies []time.Duration
	samples   []string
}

// Start validates cfg and starts the clients. It returns at once; the run
// ends by itself when MaxRequests or MaxDuration is reached, or when Stop is
// called.
func Start(cfg Config) (*Run, error) {
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Clients <= 0 || cfg.MaxRequests <= 0 || cfg.MaxDuration <= 0 {
		return nil, fmt.Errorf("load: Clients, MaxRequests and MaxDuration must all be positive, got %d, %d, %v",
			cfg.Clients, cfg.MaxRequests, cfg.MaxDuration)
	}
	if err := CheckLoopback(cfg.Addr); err != nil {
		return nil, err
	}
	r := &Run{
		cfg:   cfg,
		start: time.Now(),
		stopC: make(chan struct{}),
		doneC: make(chan struct{}),
		errs:  map[Class]int{},
		byPID: map[int]int{},
		byGen: map[int]int{},

		byVersion: map[string]int{},
		pidGen:    map[int]int{},
		firstAt:   map[int]time.Duration{},
		genLat:    map[int][]time.Duration{},
		byHeader:  map[string]int{},
	}
	var wg sync.WaitGroup
	for range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.client()
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

// afterClients bounds a run: halt is called after maxDuration unless every
// client (counted in wg) has returned first; done is called, in a goroutine
// of its own, once they all have. It does not block.
func afterClients(wg *sync.WaitGroup, maxDuration time.Duration, halt, done func()) {
	timer := time.AfterFunc(maxDuration, halt)
	go func() {
		wg.Wait()
		timer.Stop()
		done()
	}()
}

// CheckLoopback returns an error unless addr is host:port with a loopback
// host (127.0.0.0/8, ::1 or localhost). The workshop never sends traffic
// anywhere else.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("load: address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("load: %q is not a loopback address; refusing to send traffic there", host)
}

// Stop stops issuing requests, waits for the ones in flight and returns the
// final report. It may be called more than once.
func (r *Run) Stop() Report {
	r.halt()
	<-r.doneC
	return r.Snapshot()
}

// Wait blocks until the run ends by its own bounds (MaxRequests or
// MaxDuration) and returns the final report.
func (r *Run) Wait() Report {
	<-r.doneC
	return r.Snapshot()
}

// Done is closed when the run has ended (bound reached or Stop).
func (r *Run) Done() <-chan struct{} { return r.doneC }

func (r *Run) halt() { r.stopped.Do(func() { close(r.stopC) }) }

// WaitFor blocks until cond holds for a snapshot of the report, and reports
// whether it did. It returns false when timeout passes or the run ends first.
// cond must not keep the Report (its maps are copies, but cheap ones).
func (r *Run) WaitFor(cond func(Report) bool, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond(r.Snapshot()) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-tick.C:
		case <-r.doneC:
			return cond(r.Snapshot())
		}
	}
}

// client is one concurrent client: it sends requests one after another until
// the run stops, reusing its connection when keep-alive is on and the server
// did not say "Connection: close".
func (r *Run) client() {
	var conn net.Conn
	var br *bufio.Reader
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for {
		select {
		case <-r.stopC:
			return
		default:
		}
		if r.issued.Add(1) > int64(r.cfg.MaxRequests) {
			r.halt()
			return
		}
		begin := time.Now()
		if conn == nil {
			c, err := net.DialTimeout("tcp", r.cfg.Addr, r.cfg.Timeout)
			if err != nil {
				r.record(result{err: err, took: time.Since(begin)})
				if Classify(err) == Refused {
					// A refused connect fails in microseconds. Trying again
					// at once would spin: it would use up MaxRequests in a
					// moment and take the CPU from the very process that is
					// starting. Like a real client, pause a little; each
					// client then counts about one refusal per RefusedPause.
					select {
					case <-r.stopC:
					case <-time.After(RefusedPause):
					}
				}
				continue
			}
			conn, br = c, bufio.NewReader(c)
		}
		res := r.roundTrip(conn, br)
		res.took = time.Since(begin)
		r.record(res)
		if res.err != nil || res.close || !r.cfg.KeepAlive {
			conn.Close()
			conn = nil
		}
	}
}

type result struct {
	err    error
	status int
	pid    int
	gen    int
	ver    string
	header string // the value of Config.CountHeader
	close  bool   // the server said Connection: close
	took   time.Duration
}

// roundTrip sends one GET on conn and reads the whole response.
func (r *Run) roundTrip(conn net.Conn, br *bufio.Reader) result {
	_ = conn.SetDeadline(time.Now().Add(r.cfg.Timeout))
	connHdr := "keep-alive"
	if !r.cfg.KeepAlive {
		connHdr = "close"
	}
	req := "GET " + r.cfg.Path + " HTTP/1.1\r\nHost: " + r.cfg.Addr + "\r\nConnection: " + connHdr + "\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return result{err: err}
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return result{err: err}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return result{err: err}
	}
	pid, _ := strconv.Atoi(resp.Header.Get("X-Pid"))
	gen, _ := strconv.Atoi(resp.Header.Get("X-Generation"))
	res := result{status: resp.StatusCode, pid: pid, gen: gen, ver: resp.Header.Get("X-Version"), close: resp.Close}
	if r.cfg.CountHeader != "" {
		res.header = resp.Header.Get(r.cfg.CountHeader)
	}
	return res
}

// Classify names the class of a failed request's error.
func Classify(err error) Class {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		// EPIPE: we wrote into a connection the server had already reset.
		return Reset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return EOF
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return Timeout
	}
	return Other
}

func (r *Run) record(res result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent++
	switch {
	case res.err != nil:
		c := Classify(res.err)
		r.errs[c]++
		if c == Other && len(r.samples) < 5 {
			r.samples = append(r.samples, res.err.Error())
		}
		return
	case res.status < 200 || res.status > 299:
		r.errs[Non2xx]++
		if len(r.samples) < 5 {
			r.samples = append(r.samples, "status "+strconv.Itoa(res.status))
		}
		return
	}
	r.ok++
	r.latencies = append(r.latencies, res.took)
	if r.firstPID == 0 {
		r.firstPID = res.pid
	}
	r.byPID[res.pid]++
	gen := res.gen
	if r.cfg.Generation != nil {
		gen = r.cfg.Generation(res.pid, res.gen)
	}
	if gen != 0 {
		if r.byGen[gen] == 0 {
			r.firstAt[gen] = time.Since(r.start)
		}
		r.byGen[gen]++
		r.pidGen[res.pid] = gen
		r.genLat[gen] = append(r.genLat[gen], res.took)
	}
	if res.ver != "" {
		r.byVersion[res.ver]++
	}
	if r.cfg.CountHeader != "" {
		r.byHeader[res.header]++
	}
}

// Started is when the run started; Report.Elapsed and FirstAt count from it.
func (r *Run) Started() time.Time { return r.start }

// Snapshot returns the report so far; the run goes on.
func (r *Run) Snapshot() Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := Report{
		Sent:     r.sent,
		OK:       r.ok,
		Errors:   copyMap(r.errs),
		ByPID:    copyMap(r.byPID),
		ByGen:    copyMap(r.byGen),
		ByVer:    copyMap(r.byVersion),
		ByHeader: copyMap(r.byHeader),
		FirstPID: r.firstPID,
		PIDGen:   copyMap(r.pidGen),
		FirstAt:  copyMap(r.firstAt),
		Samples:  append([]string(nil), r.samples...),
		Elapsed:  time.Since(r.start),
	}
	if !r.end.IsZero() {
		rep.Elapsed = r.end.Sub(r.start)
	}
	select {
	case <-r.doneC:
		// Latencies are sorted only for the final report: sorting on every
		// WaitFor poll would cost more than the requests.
		lat := append([]time.Duration(nil), r.latencies...)
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		rep.P50, rep.P99, rep.Max = percentile(lat, 50), percentile(lat, 99), percentile(lat, 100)
		rep.GenLatency = map[int]Latency{}
		for g, l := range r.genLat {
			l = append([]time.Duration(nil), l...)
			sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
			rep.GenLatency[g] = Latency{P50: percentile(l, 50), P99: percentile(l, 99)}
		}
	default:
	}
	return rep
}

func copyMap[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return sorted[i-1]
}

// Report is what the clients saw. Latencies are filled in only once the run
// has ended (the report from Stop).
type Report struct {
	Sent     int                   // requests attempted
	OK       int                   // 2xx responses read in full
	Errors   map[Class]int         // failed requests by class
	ByPID    map[int]int           // 2xx responses by X-Pid
	ByGen    map[int]int           // 2xx responses by X-Generation (empty if the server sends none)
	ByVer    map[string]int        // 2xx responses by X-Version (empty if the server sends none)
	ByHeader map[string]int        // 2xx responses by the value of Config.CountHeader ("" if absent); empty without it
	FirstPID int                   // X-Pid of the first 2xx response
	PIDGen   map[int]int           // X-Pid -> the generation of its latest 2xx response (see Config.Generation)
	FirstAt  map[int]time.Duration // generation -> when its first 2xx response arrived, since Start
	P50      time.Duration         // latency of 2xx responses
	P99      time.Duration
	Max      time.Duration
	// GenLatency is the latency of each generation's 2xx responses.
	GenLatency map[int]Latency
	Elapsed    time.Duration
	Samples    []string // the first few "other" and non-2xx errors, verbatim
}

// Latency is a pair of latency percentiles.
type Latency struct{ P50, P99 time.Duration }

// Failed is the number of failed requests of every class.
func (r Report) Failed() int {
	n := 0
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// FromOtherPIDs counts 2xx responses from processes not in pids.
func (r Report) FromOtherPIDs(pids ...int) int {
	n := 0
outer:
	for pid, c := range r.ByPID {
		for _, p := range pids {
			if pid == p {
				continue outer
			}
		}
		n += c
	}
	return n
}

// String is a short multi-line summary, as scripts/loadtest.sh prints it.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "requests %d in %v: ok %d, failed %d\n", r.Sent, r.Elapsed.Round(time.Millisecond), r.OK, r.Failed())
	fmt.Fprintf(&b, "errors:")
	for _, c := range Classes {
		fmt.Fprintf(&b, " %s=%d", c, r.Errors[c])
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "served by pid:")
	for _, pid := range sortedKeys(r.ByPID) {
		fmt.Fprintf(&b, " %d=%d", pid, r.ByPID[pid])
	}
	b.WriteString("\n")
	if len(r.ByGen) > 0 {
		fmt.Fprintf(&b, "served by generation:")
		for _, g := range sortedKeys(r.ByGen) {
			fmt.Fprintf(&b, " %d=%d", g, r.ByGen[g])
		}
		b.WriteString("\n")
		if len(r.GenLatency) > 0 {
			fmt.Fprintf(&b, "latency by generation:")
			for i, g := range sortedKeys(r.ByGen) {
				sep := ","
				if i == 0 {
					sep = ""
				}
				l := r.GenLatency[g]
				fmt.Fprintf(&b, "%s %d p50 %v p99 %v", sep, g, l.P50.Round(10*time.Microsecond), l.P99.Round(10*time.Microsecond))
			}
			b.WriteString("\n")
		}
	}
	if len(r.ByVer) > 0 {
		vers := make([]string, 0, len(r.ByVer))
		for v := range r.ByVer {
			vers = append(vers, v)
		}
		sort.Strings(vers)
		fmt.Fprintf(&b, "served by version:")
		for _, v := range vers {
			fmt.Fprintf(&b, " %s=%d", v, r.ByVer[v])
		}
		b.WriteString("\n")
	}
	if r.P50 > 0 {
		fmt.Fprintf(&b, "latency: p50 %v, p99 %v, max %v\n", r.P50.Round(time.Microsecond*10), r.P99.Round(time.Microsecond*10), r.Max.Round(time.Microsecond*10))
	}
	for _, s := range r.Samples {
		fmt.Fprintf(&b, "sample error: %s\n", s)
	}
	return b.String()
}

func sortedKeys(m map[int]int) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}
