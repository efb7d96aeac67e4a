package listener

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// drainState is what Serve adds to an http.Server: a count of its
// connections (through ConnState) and a flag that, once set, makes every
// response that starts from then on carry "Connection: close".
type drainState struct {
	draining atomic.Bool

	mu       sync.Mutex
	conns    int           // connections from StateNew until StateClosed or StateHijacked
	changedC chan struct{} // closed and replaced whenever conns goes down
}

func newDrainState() *drainState {
	return &drainState{changedC: make(chan struct{})}
}

// install wraps srv's handler and ConnState hook. The caller's hook, if any,
// still runs, after the count is updated.
func (d *drainState) install(srv *http.Server) {
	next := srv.Handler
	if next == nil {
		next = http.DefaultServeMux
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.draining.Load() {
			// The client will close this connection after reading the
			// response, instead of sending its next request on a
			// connection we are about to close (the keep-alive race).
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
	prev := srv.ConnState
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		d.connState(s)
		if prev != nil {
			prev(c, s)
		}
	}
}

func (d *drainState) connState(s http.ConnState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch s {
	case http.StateNew:
		d.conns++
	case http.StateClosed, http.StateHijacked:
		d.conns--
		close(d.changedC)
		d.changedC = make(chan struct{})
	}
}

// open is the number of connections the server still has.
func (d *drainState) open() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conns
}

// waitNoConns blocks until the server has no connection left or ctx ends.
func (d *drainState) waitNoConns(ctx context.Context) {
	for {
		d.mu.Lock()
		n, changedC := d.conns, d.changedC
		d.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-changedC:
		case <-ctx.Done():
			return
		}
	}
}
