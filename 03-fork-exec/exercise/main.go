// Exercise 03 (template): replace the worker on SIGHUP, new one first.
//
// This is stage 03 with the master's restart removed; fill in the TODO.
// It says what to do and why, not which lines to write. Stuck? HINTS.md,
// next to this file, has the steps.
// Check with: go test -tags exercise ./03-fork-exec/exercise/
// The answer is ../main.go (diff -u exercise/main.go main.go).
//
// Stage 03: a master holds the socket, workers serve.
//
// One binary, two roles. Started by you, the program is the master: it binds
// the socket, starts a worker (fork+exec of its own binary, the socket
// inherited as in stage 02) and never accepts a connection itself. On SIGHUP
// it starts a new worker first and only then sends SIGTERM to the old one, so
// some process always holds the socket: no client is refused, and there is
// no gap. The old worker still exits at once, as in stage 01, cutting the
// requests it was answering.
package main

import (
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
	flag.Parse()
	log.SetPrefix(fmt.Sprintf("[pid %d] ", os.Getpid()))

	ln, err := listen(*addr)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	generation := os.Getenv(envGeneration)
	if generation == "" {
		// Nobody gave us a generation: we are the master.
		master(ln.(*net.TCPListener))
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
	err = srv.Serve(ln)
	// Serve returns when the listener is closed. The process exits right
	// after: requests still being answered are cut off.
	if !errors.Is(err, net.ErrClosed) {
		log.Fatalf("serve: %v", err)
	}
	log.Printf("listener closed, exiting")
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
func master(ln *net.TCPListener) {
	sigC := make(chan os.Signal, 1)
	signal.Notify(sigC, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	fmt.Printf("listening on %s pid=%d\n", ln.Addr(), os.Getpid())

	exitC := make(chan *worker)
	live := map[*worker]bool{}
	generation := 1
	current, err := startWorker(ln, generation, exitC)
	if err != nil {
		log.Fatalf("start worker: %v", err)
	}
	live[current] = true
	stopping := false

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
				// TODO(exercise): replace the current worker, new one first.
				// Why new first: if the new worker cannot start (a broken
				// deploy), the old one has not been touched and goes on
				// serving; stopped first, nobody would answer, and clients
				// would wait in the queue until they give up. (It also keeps
				// the new worker's fork+exec out of the moment when no worker
				// accepts.) The state the loop keeps must follow: each
				// restart is the next generation (the test wants 2, 3, 4),
				// and the new worker is the one the next SIGHUP stops. Log
				// "sending SIGTERM to old worker pid=<pid>" when you stop
				// one: the test reads it.
			case sig == syscall.SIGTERM || sig == syscall.SIGINT:
				// Close our copy first: once the workers have closed theirs,
				// new connections are refused rather than queued for nobody.
				stopping = true
				ln.Close()
				for w := range live {
					log.Printf("sending SIGTERM to worker pid=%d", w.pid())
					w.cmd.Process.Signal(syscall.SIGTERM)
				}
			}
		case w := <-exitC:
			delete(live, w)
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
