package listener

import (
	"cmp"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// LongLived registers the connection of r with the drain of the Serve that
// runs the handler: a connection the handler keeps open for long, such as a
// WebSocket (hijacked) or an event stream (a response that does not end by
// itself). http.Server.Shutdown neither tells such a handler that the server
// is stopping nor waits for a hijacked connection; the drain of Serve does
// both for every connection registered here.
//
// stop is closed when the connection should end: when the drain begins, or
// later within the window of WithCloseSpread. The handler then ends the
// connection cleanly — a WebSocket close frame with status 1012 (Service
// Restart); a last "retry:" line and the end of an event stream — and calls
// done once the connection is closed (for a stream: as the handler returns).
// The drain waits for every registered connection whose done has not been
// called, until the drain deadline; then it closes the connection itself
// (the client sees an abnormal close) and Serve says so in its log.
//
// A stream whose done is called during the drain has its connection closed
// as soon as the response is complete, instead of kept alive: the client's
// reconnection goes to the next worker, and this one can exit.
//
// Call LongLived in the handler before hijacking, and done once (a defer is
// the usual way; later calls do nothing). For a request that Serve does not
// run (an httptest server, say), stop is nil (it never closes) and done does
// nothing.
func LongLived(r *http.Request) (stop <-chan struct{}, done func()) {
	d, _ := r.Context().Value(drainKey{}).(*drainState)
	c, _ := r.Context().Value(connKey{}).(net.Conn)
	if d == nil || c == nil {
		return nil, func() {}
	}
	return d.hold(c)
}

// drainKey and connKey are the request context keys under which Serve puts
// its drainState (the handler wrapper) and the request's connection
// (ConnContext).
type (
	drainKey struct{}
	connKey  struct{}
)

// held is one connection registered by LongLived.
type held struct {
	seq     uint64 // registration order: the drain stops the oldest first
	conn    net.Conn
	stopC   chan struct{}
	stopped bool
}

// holds is drainState's registry of long-lived connections, guarded by
// drainState.mu.
type holds struct {
	seq       uint64
	live      map[*held]struct{}    // registered, done not called yet
	stopping  bool                  // the drain has begun: new registrations stop at once
	stops     int                   // stop channels closed so far
	closeIdle map[net.Conn]struct{} // streams done during the drain: close when idle
}

func newHolds() holds {
	return holds{live: map[*held]struct{}{}, closeIdle: map[net.Conn]struct{}{}}
}

func (d *drainState) hold(c net.Conn) (<-chan struct{}, func()) {
	h := &held{conn: c, stopC: make(chan struct{})}
	d.mu.Lock()
	d.seq++
	h.seq = d.seq
	d.live[h] = struct{}{}
	if d.stopping {
		d.stopLocked(h)
	}
	d.mu.Unlock()
	var once sync.Once
	return h.stopC, func() { once.Do(func() { d.release(h) }) }
}

func (d *drainState) release(h *held) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.live, h)
	if d.stopping {
		if _, ok := d.conns[h.conn]; ok {
			// Not hijacked: the connection goes idle once the response
			// is complete, and connState closes it then.
			d.closeIdle[h.conn] = struct{}{}
		}
	}
	d.changedLocked()
}

// stopAll closes the stop channel of every registered connection, the
// oldest first, spread evenly over window: the i-th of n at i*window/n, so
// the first at once. Connections registered from now on stop at once.
func (d *drainState) stopAll(window time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopping = true
	list := make([]*held, 0, len(d.live))
	for h := range d.live {
		list = append(list, h)
	}
	slices.SortFunc(list, func(a, b *held) int { return cmp.Compare(a.seq, b.seq) })
	for i, h := range list {
		delay := window * time.Duration(i) / time.Duration(len(list))
		if delay <= 0 {
			d.stopLocked(h)
			continue
		}
		time.AfterFunc(delay, func() {
			d.mu.Lock()
			defer d.mu.Unlock()
			d.stopLocked(h)
		})
	}
}

func (d *drainState) stopLocked(h *held) {
	if !h.stopped {
		h.stopped = true
		d.stops++
		close(h.stopC)
	}
}

// counts returns the number of connections open (hijacked long-lived ones
// included), of long-lived ones not done yet, and of those told to stop.
func (d *drainState) counts() (open, live, stopped int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	open = len(d.conns)
	for h := range d.live {
		if _, ok := d.conns[h.conn]; !ok {
			open++ // hijacked
		}
	}
	return open, len(d.live), d.stops
}

// closeHolds closes the connection of every registration not done yet (at
// the drain deadline): http.Server.Close does not close hijacked ones.
func (d *drainState) closeHolds() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for h := range d.live {
		h.conn.Close()
	}
}
