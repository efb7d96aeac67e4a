package listener

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// drainState is what Serve adds to an http.Server: a count of its
// connections (through ConnState), a flag that, once set, makes every
// response that starts from then on carry "Connection: close", and the
// long-lived connections registered by LongLived (longlived.go).
type drainState struct {
	draining atomic.Bool

	mu       sync.Mutex
	conns    map[net.Conn]http.ConnState // from StateNew until StateClosed or StateHijacked
	changedC chan struct{}               // closed and replaced whenever a connection closes, goes idle or is done
	holds                                // guarded by mu
}

func newDrainState() *drainState {
	return &drainState{conns: map[net.Conn]http.ConnState{}, changedC: make(chan struct{}), holds: newHolds()}
}

// install wraps srv's handler, ConnState hook and ConnContext. The caller's
// hook and ConnContext, if any, still run, the hook after the count is
// updated.
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
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), drainKey{}, d)))
	})
	prev := srv.ConnState
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		d.connState(c, s)
		if prev != nil {
			prev(c, s)
		}
	}
	prevCtx := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if prevCtx != nil {
			ctx = prevCtx(ctx, c)
		}
		return context.WithValue(ctx, connKey{}, c)
	}
}

func (d *drainState) connState(c net.Conn, s http.ConnState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch s {
	case http.StateNew, http.StateActive:
		d.conns[c] = s
	case http.StateIdle:
		d.conns[c] = s
		if _, ok := d.closeIdle[c]; ok {
			// A stream that LongLived registered ended during the
			// drain, and its response is complete: close now, so that
			// the client reconnects to the next worker (and we can exit)
			// instead of keeping the connection alive.
			delete(d.closeIdle, c)
			c.Close()
		}
		d.changedLocked()
	case http.StateClosed, http.StateHijacked:
		delete(d.conns, c)
		delete(d.closeIdle, c)
		d.changedLocked()
	}
}

// changedLocked wakes every waiter. d.mu must be held.
func (d *drainState) changedLocked() {
	close(d.changedC)
	d.changedC = make(chan struct{})
}

// waitFor blocks until cond (called with d.mu held) is true or ctx ends,
// and reports whether cond became true.
func (d *drainState) waitFor(ctx context.Context, cond func() bool) bool {
	for {
		d.mu.Lock()
		ok, changedC := cond(), d.changedC
		d.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changedC:
		case <-ctx.Done():
			return false
		}
	}
}

// waitNoConns blocks until the server has no connection left or ctx ends.
func (d *drainState) waitNoConns(ctx context.Context) {
	d.waitFor(ctx, func() bool { return len(d.conns) == 0 })
}

// waitQuiet blocks until no connection is answering a request and every
// long-lived connection is done, or ctx ends, and reports which. Idle and
// new connections do not count: Shutdown closes the idle ones at once and
// treats new ones as http.Server does.
func (d *drainState) waitQuiet(ctx context.Context) bool {
	return d.waitFor(ctx, func() bool {
		if len(d.live) > 0 {
			return false
		}
		for _, s := range d.conns {
			if s == http.StateActive {
				return false
			}
		}
		return true
	})
}
