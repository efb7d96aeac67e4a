package listener

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"
)

// ErrDrainTimeout is returned (wrapped) by Serve when connections were still
// open at the drain deadline and had to be closed.
var ErrDrainTimeout = errors.New("drain deadline passed")

// Serve serves srv on every listener in lns until a stop signal (SIGTERM or
// SIGINT unless WithSignals says otherwise) or the end of WithContext's
// context, then drains and returns. It blocks for the whole life of the
// server; the caller's main returns (exits) after it.
//
// Serve owns lns: it closes them all before it returns. It installs its own
// Handler wrapper and ConnState hook on srv (keeping the caller's); do not
// change srv or call its Serve, Shutdown or Close while Serve runs.
//
// The drain is what makes a restart lossless when another process holds the
// same listening sockets (the starter and the next worker). In this order:
//
//  1. Close our listeners: we stop accepting, the kernel queue stays alive in
//     the other processes, so new connections go to the new worker.
//  2. Wait until every srv.Serve loop has returned: a connection accepted
//     just before the close is then registered with srv (its ConnState hook
//     has run), so Shutdown will wait for it instead of exiting under it.
//  3. Mark draining: every response that starts now says "Connection: close".
//     Only after step 1, so that a client reconnecting after such a response
//     cannot land on our (closed) listener.
//     Tell the long-lived connections (LongLived) to end: all at once, or
//     spread over a window (WithCloseSpread).
//  4. Wait until srv has no connection left, or the grace period (WithGrace)
//     has passed: busy keep-alive clients each get one "Connection: close"
//     response and hang up themselves, instead of racing a close by us.
//  5. Wait until no request is running and every long-lived connection is
//     done. Shutdown does not wait for hijacked connections (WebSockets):
//     without this step the process would exit under them.
//  6. Shutdown: closes the idle remainder.
//
// At the drain deadline, whatever is still open is closed: Close cuts the
// running requests, and the long-lived connections are closed too.
//
// Serve returns nil after a complete drain; an error wrapping
// ErrDrainTimeout if connections had to be cut (at the deadline, or because
// the signal that started the drain came again); and the error of a
// srv.Serve loop that failed by itself (after draining the others).
func Serve(srv *http.Server, lns []net.Listener, opts ...Option) error {
	if len(lns) == 0 {
		return errors.New("listener: serve: no listeners")
	}
	cfg := newServeConfig(opts)
	d := newDrainState()
	d.install(srv)

	// Buffered: signal.Notify drops a signal that finds the channel full.
	sigC := make(chan os.Signal, 1)
	if len(cfg.signals) > 0 {
		signal.Notify(sigC, cfg.signals...)
		defer signal.Stop(sigC)
	}

	serveErrC := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { serveErrC <- srv.Serve(ln) }()
	}
	running := len(lns)
	if cfg.onServing != nil {
		cfg.onServing()
	}

	var failed error      // a Serve loop that ended without us asking
	var stopSig os.Signal // the signal that started the drain, if one did
	select {
	case stopSig = <-sigC:
		cfg.logf("got %v, draining", stopSig)
	case <-cfg.ctx.Done():
		cfg.logf("%v, draining", context.Cause(cfg.ctx))
	case err := <-serveErrC:
		running--
		failed = fmt.Errorf("listener: serve: %w", err)
		cfg.logf("%v, draining", failed)
	}
	start := time.Now()
	// The drain deadline. The same signal once more ends the drain at once
	// (Ctrl-C twice). A different one does not: Ctrl-C in a terminal sends
	// SIGINT to the whole process group, starter included, and the starter
	// then sends its own SIGTERM, which must not cut the drain.
	drainCtx, cancel := context.WithDeadline(context.Background(), start.Add(cfg.drain))
	defer cancel()
	go func() {
		for {
			select {
			case sig := <-sigC:
				if sig != stopSig {
					cfg.logf("got %v, still draining", sig)
					continue
				}
				cfg.logf("got %v again, closing all connections now", sig)
				cancel()
			case <-drainCtx.Done():
			}
			return
		}
	}()
	if cfg.onDraining != nil {
		cfg.onDraining()
	}

	// 1. Stop accepting.
	for _, ln := range lns {
		ln.Close()
	}
	// 2. Wait for the Serve loops (each returns at once on a closed listener).
	for ; running > 0; running-- {
		if err := <-serveErrC; !errors.Is(err, net.ErrClosed) && failed == nil {
			failed = fmt.Errorf("listener: serve: %w", err)
		}
	}
	// 3. From now on, every response closes its connection, and the
	// long-lived ones are told to end.
	d.draining.Store(true)
	d.stopAll(cfg.spread)
	// 4. Let clients hang up themselves.
	graceCtx, cancelGrace := context.WithTimeout(drainCtx, cfg.grace)
	d.waitNoConns(graceCtx)
	cancelGrace()
	// 5. Wait for running requests and long-lived connections, then 6.
	// close the idle rest. Not Shutdown at the deadline: it does not track
	// hijacked connections, so it could report success with some open.
	var err error
	if d.waitQuiet(drainCtx) {
		err = srv.Shutdown(drainCtx)
	} else {
		err = drainCtx.Err()
	}
	if err != nil {
		n, left, _ := d.counts()
		d.closeHolds()
		srv.Close()
		msg := fmt.Sprintf("drain cut short after %v, %d connections closed", time.Since(start).Round(time.Millisecond), n)
		if left > 0 {
			msg += fmt.Sprintf(", %d of them long-lived: told to end, not closed in time", left)
		}
		cfg.logf("%s", msg)
		return errors.Join(failed, fmt.Errorf("listener: %w with %d connections open (%d long-lived): %w", ErrDrainTimeout, n, left, err))
	}
	if _, _, stopped := d.counts(); stopped > 0 {
		cfg.logf("drained in %v, %d long-lived connections ended", time.Since(start).Round(time.Millisecond), stopped)
	} else {
		cfg.logf("drained in %v", time.Since(start).Round(time.Millisecond))
	}
	return failed
}
