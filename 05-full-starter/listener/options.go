package listener

import (
	"context"
	"os"
	"syscall"
	"time"
)

// Defaults of Serve.
const (
	// DefaultDrainTimeout is the drain deadline: after it, Serve closes the
	// connections that are left. It is shorter than start_server's default
	// --kill-timeout (30 s), so that a worker that uses its whole drain
	// still closes and exits by itself before the starter's SIGKILL.
	DefaultDrainTimeout = 20 * time.Second
	// DefaultGrace is the longest the drain waits for clients to close
	// their connections after a "Connection: close" response, before
	// Shutdown closes what is left; it is capped at half the drain timeout.
	DefaultGrace = time.Second
)

// Option configures Serve.
type Option func(*serveConfig)

type serveConfig struct {
	signals    []os.Signal
	ctx        context.Context
	drain      time.Duration
	grace      time.Duration // <0: not set, derive from drain
	spread     time.Duration
	logf       func(format string, args ...any)
	onServing  func()
	onDraining func()
}

func newServeConfig(opts []Option) serveConfig {
	c := serveConfig{
		signals: []os.Signal{syscall.SIGTERM, syscall.SIGINT},
		ctx:     context.Background(),
		drain:   DefaultDrainTimeout,
		grace:   -1,
		logf:    func(string, ...any) {},
	}
	for _, o := range opts {
		o(&c)
	}
	if c.grace < 0 {
		c.grace = min(DefaultGrace, c.drain/2)
	}
	c.grace = min(c.grace, c.drain)
	c.spread = min(c.spread, c.drain/2)
	return c
}

// WithSignals replaces the signals that start the drain (SIGTERM and SIGINT
// by default). With no arguments, no signal is handled: use WithContext.
// The signal that started the drain, sent again, cuts it short (Close at
// once); other signals of the set are only logged during the drain.
func WithSignals(sigs ...os.Signal) Option {
	return func(c *serveConfig) { c.signals = sigs }
}

// WithContext makes the end of ctx start the drain, like a signal. Ending
// ctx during the drain does not shorten it.
func WithContext(ctx context.Context) Option {
	return func(c *serveConfig) { c.ctx = ctx }
}

// WithDrainTimeout bounds the whole drain, from the stop signal to the
// last connection closed (DefaultDrainTimeout, 20 s, by default). Connections still open then are
// closed and Serve returns an error.
func WithDrainTimeout(d time.Duration) Option {
	return func(c *serveConfig) {
		if d > 0 {
			c.drain = d
		}
	}
}

// WithGrace sets how long the drain waits for clients to close their
// connections themselves (see DefaultGrace). Zero skips that wait.
func WithGrace(d time.Duration) Option {
	return func(c *serveConfig) {
		if d >= 0 {
			c.grace = d
		}
	}
}

// WithCloseSpread spreads the stop notices of long-lived connections (see
// LongLived) evenly over window from the start of the drain, the oldest
// connection first and at once, instead of all at once. Every client of a
// closed connection reconnects, to the next worker: spreading the closes
// turns one burst of n reconnections (handshakes, authentications, state
// reloads) into n over the window. Zero (the default) stops all at once.
// The window is capped at half the drain timeout, so that the last
// connections still have time to close before the deadline.
func WithCloseSpread(window time.Duration) Option {
	return func(c *serveConfig) {
		if window >= 0 {
			c.spread = window
		}
	}
}

// WithLogger makes Serve report the stop and the drain through logf
// (log.Printf, say). Serve logs nothing by default.
func WithLogger(logf func(format string, args ...any)) Option {
	return func(c *serveConfig) {
		if logf != nil {
			c.logf = logf
		}
	}
}

// OnServing registers f, called once when the stop signals are handled and
// every listener is being served: the moment to print "listening on" and to
// call Ready. Serve blocks while f runs.
func OnServing(f func()) Option {
	return func(c *serveConfig) { c.onServing = f }
}

// OnDraining registers f, called once when the drain begins, before the
// listeners are closed (the moment to call Stopping). Serve blocks while f
// runs.
func OnDraining(f func()) Option {
	return func(c *serveConfig) { c.onDraining = f }
}
