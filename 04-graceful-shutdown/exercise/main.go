// Exercise 04 (template): let the old worker drain.
//
// This is stage 04 with the body of drain removed; fill in the TODO.
// It says what to do and why, not which calls to write. Stuck? HINTS.md,
// next to this file, has the steps.
// Check with: go test -tags exercise ./04-graceful-shutdown/exercise/
// The answer is ../main.go (diff -u exercise/main.go main.go).
//
// Stage 04: the old worker drains; no request is lost.
//
// As in stage 03, a master holds the socket and on SIGHUP starts a new worker
// before it sends SIGTERM to the old one. New: the old worker no longer exits
// at once. It stops accepting, lets every request it has accepted finish,
// tells keep-alive clients to go elsewhere (Connection: close), and only then
// exits. The master gives it -drain-timeout (plus a little) and then sends
// SIGKILL, so a stuck worker cannot hold a deploy forever.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The master tells each worker which fd holds the listening socket and which
// generation the worker is (1 for the first, +1 for each restart).
const (
	envListenFD   = "HOTDEPLOY_LISTEN_FD"
	envGeneration = "HOTDEPLOY_GENERATION"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (port 0: any free port)")
	drainTimeout := flag.Duration("drain-timeout", 10*time.Second, "how long a stopping worker may take to finish its requests")
	flag.Parse()
	log.SetPrefix(fmt.Sprintf("[pid %d] ", os.Getpid()))

	ln, err := listen(*addr)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	generation := os.Getenv(envGeneration)
	if generation == "" {
		// Nobody gave us a generation: we are the master.
		// The worker's own deadline plus a margin for closing and exiting.
		master(ln.(*net.TCPListener), *drainTimeout+2*time.Second)
		return
	}

	// Install the handler before we announce that we are listening: a signal
	// that arrives earlier would otherwise kill us with the default action.
	// The channel is buffered because signal.Notify never blocks: a signal
	// that finds the channel full is dropped.
	sigC := make(chan os.Signal, 1)
	signal.Notify(sigC, syscall.SIGTERM, syscall.SIGINT)
	go waitSignal(sigC, ln)

	fmt.Printf("worker pid=%d generation=%s serving on %s\n", os.Getpid(), generation, ln.Addr())
	srv := &http.Server{Handler: newHandler(generation), ReadHeaderTimeout: 10 * time.Second}
	d := newDrainer(srv)
	err = srv.Serve(ln)
	// Serve returns when the listener is closed. We closed it ourselves
	// (waitSignal) instead of calling Shutdown: once Shutdown has begun, a
	// connection that reads a request closes without answering it (net/http
	// checks shuttingDown() right after reading each request), so every
	// client whose connection was accepted but whose request had not been
	// read yet would see EOF. Without Shutdown, the server answers them all
	// while we drain. And once Serve has returned, ConnState has reported
	// every connection it accepted (StateNew is set before Serve can
	// return), so the drainer's set is complete.
	if !errors.Is(err, net.ErrClosed) {
		log.Fatalf("serve: %v", err)
	}
	log.Printf("listener closed, draining")
	d.drain(*drainTimeout)
	log.Printf("drained, exiting")
}

// A drainer lets a stopping server finish with its connections instead of
// cutting them. It wraps srv's handler and sets srv.ConnState, so it must be
// made before srv serves.
type drainer struct {
	srv      *http.Server
	draining atomic.Bool

	mu     sync.Mutex
	conns  map[net.Conn]bool // open connections (tracked through ConnState)
	emptyC chan struct{}     // closed when draining and no connection is left
	empty  bool              // emptyC is closed
}

func newDrainer(srv *http.Server) *drainer {
	d := &drainer{srv: srv, conns: map[net.Conn]bool{}, emptyC: make(chan struct{})}
	next := srv.Handler
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.draining.Load() {
			// A keep-alive client would send its next request on this
			// connection; closing it under the client at that moment is an
			// error for the client. "Connection: close" tells it to
			// reconnect instead, and it lands on the new worker.
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
	srv.ConnState = func(c net.Conn, state http.ConnState) {
		d.mu.Lock()
		defer d.mu.Unlock()
		if state == http.StateClosed || state == http.StateHijacked {
			delete(d.conns, c)
		} else {
			d.conns[c] = true
		}
		d.checkEmptyLocked()
	}
	return d
}

func (d *drainer) checkEmptyLocked() {
	if d.draining.Load() && len(d.conns) == 0 && !d.empty {
		d.empty = true
		close(d.emptyC)
	}
}

// drain blocks until every connection is closed, or timeout has passed. Call
// it after Serve has returned (the listener is closed).
//
// First, every response carries "Connection: close", and open connections
// get half the timeout to receive one: a busy keep-alive client sends its
// next request within microseconds, gets the answer and closes. Tracking the
// connections (instead of sleeping for a fixed time) lets us stop waiting as
// soon as the last one is gone. Then Shutdown closes the connections that
// stayed idle (their clients are not sending) and waits for active ones
// until the deadline; Close cuts whatever is left.
func (d *drainer) drain(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = ctx // TODO(exercise): delete this line once ctx is used
	// TODO(exercise): write the drain; the comment above says the plan, and
	// the order is the lesson.
	//  - From now on every response must tell its client to reconnect
	//    elsewhere (the handler newDrainer installed does that once
	//    d.draining is set). Take d.mu for this and for counting the open
	//    connections: ConnState changes them concurrently. Log
	//    "draining <n> open connections". With none at all, no ConnState
	//    call will ever close d.emptyC: check it yourself.
	//  - Wait for the connections to end by themselves, but not forever:
	//    a keep-alive client that sends nothing (a browser tab, a load
	//    balancer's pool) never gets a response to carry "Connection:
	//    close", so its connection never ends. Half the timeout is the
	//    budget. And do not just sleep: stop waiting as soon as the last
	//    connection is gone (the test checks both).
	//  - Then shut the server down with ctx: that closes the idle
	//    connections and waits for the active ones until ctx's deadline;
	//    whatever is left after that is cut.
}

// waitSignal blocks until a signal arrives on sigC, then closes ln.
func waitSignal(sigC <-chan os.Signal, ln net.Listener) {
	sig := <-sigC
	log.Printf("got %v, closing the listener", sig)
	ln.Close()
}

// listen returns the listener a worker inherited from its master (fd number
// in $HOTDEPLOY_LISTEN_FD), or, in the master, a new one on addr.
func listen(addr string) (net.Listener, error) {
	s := os.Getenv(envListenFD)
	if s == "" {
		return net.Listen("tcp", addr)
	}
	os.Unsetenv(envListenFD) // not for the worker's own children
	fd, err := strconv.Atoi(s)
	if err != nil {
		return nil, fmt.Errorf("%s=%q: %w", envListenFD, s, err)
	}
	// FileListener dups the fd, so the listener has its own copy (opened
	// close-on-exec again) and we close the inherited one.
	f := os.NewFile(uintptr(fd), "inherited listener")
	defer f.Close()
	return net.FileListener(f)
}

// master runs the master role: it starts the first worker, replaces workers
// on SIGHUP, and on SIGTERM or SIGINT stops them all and returns once every
// one has exited. It never accepts on ln; it keeps the socket open so that the
// kernel queues connections while no worker is accepting.
func master(ln *net.TCPListener, killAfter time.Duration) {
	sigC := make(chan os.Signal, 1)
	signal.Notify(sigC, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	fmt.Printf("listening on %s pid=%d\n", ln.Addr(), os.Getpid())

	exitC := make(chan *worker)
	killC := make(chan *worker)
	live := map[*worker]bool{}
	generation := 1
	current, err := startWorker(ln, generation, exitC)
	if err != nil {
		log.Fatalf("start worker: %v", err)
	}
	live[current] = true
	stopping := false

	// stop asks w to exit, and makes sure it does: if w is still alive
	// killAfter later, the loop below sends SIGKILL.
	stop := func(w *worker) {
		log.Printf("sending SIGTERM to worker pid=%d generation=%d", w.pid(), w.generation)
		w.cmd.Process.Signal(syscall.SIGTERM)
		if w.killTimer == nil {
			w.killTimer = time.AfterFunc(killAfter, func() { killC <- w })
		}
	}

	// One goroutine (this one) owns the workers: signals and exits arrive
	// as messages, so there is nothing to lock.
	for {
		select {
		case sig := <-sigC:
			switch {
			case sig == syscall.SIGHUP && !stopping:
				// New first, then old: the socket is open in the master the
				// whole time, so a connection that arrives while the new
				// worker is still starting waits in the accept queue.
				generation++
				w, err := startWorker(ln, generation, exitC)
				if err != nil {
					log.Printf("start worker: %v; the old one keeps serving", err)
					continue
				}
				live[w] = true
				if current != nil {
					stop(current)
				}
				current = w
			case sig == syscall.SIGTERM || sig == syscall.SIGINT:
				// Close our copy first: once the workers have closed theirs,
				// new connections are refused rather than queued for nobody.
				stopping = true
				ln.Close()
				for w := range live {
					stop(w)
				}
			}
		case w := <-killC:
			if live[w] {
				log.Printf("worker pid=%d generation=%d still running %v after SIGTERM, sending SIGKILL", w.pid(), w.generation, killAfter)
				w.cmd.Process.Kill()
			}
		case w := <-exitC:
			delete(live, w)
			if w.killTimer != nil {
				w.killTimer.Stop() // no SIGKILL for a worker that is gone
			}
			log.Printf("worker pid=%d generation=%d exited: %v", w.pid(), w.generation, w.cmd.ProcessState)
			if w == current && !stopping {
				log.Printf("the current worker died by itself; send SIGHUP to start a new one")
				current = nil
			}
		}
		if stopping && len(live) == 0 {
			log.Printf("all workers have exited, exiting")
			return
		}
	}
}

// A worker is one started child process.
type worker struct {
	cmd        *exec.Cmd // cmd.ProcessState tells how it exited, once it is sent on exitC
	generation int
	killTimer  *time.Timer // set when the worker was asked to stop
}

func (w *worker) pid() int { return w.cmd.Process.Pid }

// startWorker starts this binary again as a worker of the given generation,
// with the listening socket on fd 3. A goroutine waits for the worker (a
// child nobody waits for stays a zombie) and then sends it on exitC, so the
// caller must keep receiving from exitC.
func startWorker(ln *net.TCPListener, generation int, exitC chan<- *worker) (*worker, error) {
	// exec.Cmd puts ExtraFiles[i] on fd 3+i in the child with FD_CLOEXEC
	// cleared; our dup is closed once the child has started (it has its own
	// copy by then).
	f, err := listenerFile(ln)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{f}
	cmd.Env = append(os.Environ(), envListenFD+"=3", envGeneration+"="+strconv.Itoa(generation))
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	w := &worker{cmd: cmd, generation: generation}
	log.Printf("started worker pid=%d generation=%d", w.pid(), generation)
	go func() {
		cmd.Wait()
		exitC <- w
	}()
	return w, nil
}

// listenerFile returns a duplicate of ln's fd, as an *os.File to pass in
// ExtraFiles.
//
// Why not ln.File(), which also returns a dup? Its Fd method, which exec
// calls, switches the fd to blocking mode. That mode is not per fd but per
// socket, shared by the master and every worker. A worker that calls
// accept(2) while the socket is blocking waits inside the kernel, where
// closing its listener cannot wake it: it never exits. os.NewFile on our own
// dup leaves the mode alone.
func listenerFile(ln *net.TCPListener) (*os.File, error) {
	rc, err := ln.SyscallConn()
	if err != nil {
		return nil, err
	}
	var dup int
	var dupErr error
	err = rc.Control(func(fd uintptr) {
		dup, dupErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	})
	if err != nil || dupErr != nil {
		return nil, fmt.Errorf("dup listener: %w", errors.Join(err, dupErr))
	}
	return os.NewFile(uintptr(dup), "listener"), nil
}

// newHandler serves GET / (who am I) and GET /slow?ms=N (a request that
// stays in flight for N ms, to see what a restart does to it).
func newHandler(generation string) http.Handler {
	pid := strconv.Itoa(os.Getpid())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Pid", pid)
		w.Header().Set("X-Generation", generation)
		fmt.Fprintf(w, "hello from pid %s, generation %s\n", pid, generation)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil || ms < 0 || ms > 60000 {
			http.Error(w, "ms must be 0..60000", http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Pid", pid)
		w.Header().Set("X-Generation", generation)
		// Send the headers and a first byte now, so the client knows the
		// request is in flight; then finish later.
		fmt.Fprint(w, ".")
		w.(http.Flusher).Flush()
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Fprintf(w, " done after %d ms, pid %s\n", ms, pid)
	})
	return mux
}
