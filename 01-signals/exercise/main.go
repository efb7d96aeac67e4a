// Exercise 01 (template): make the server stop when it is told to.
//
// This is stage 01 with the signal handling removed; fill in the two TODOs.
// They say what to do and why, not which calls to write: finding those in
// the standard library's docs is part of the exercise. Stuck? HINTS.md, next
// to this file, has the steps.
// Check with: go test -tags exercise ./01-signals/exercise/
// The answer is ../main.go (diff -u exercise/main.go main.go).
//
// Stage 01: a server that stops when it is told to.
//
// A signal handler runs in its own goroutine. When SIGTERM or SIGINT arrives
// it closes the listening socket; Serve then returns and the program exits 0.
// A "restart" at this stage means: stop the process, start a new one. Between
// the two, nobody holds the port, and clients are refused.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (port 0: any free port)")
	flag.Parse()
	log.SetPrefix(fmt.Sprintf("[pid %d] ", os.Getpid()))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}

	// Install the handler before we announce that we are listening: a signal
	// that arrives earlier would otherwise kill us with the default action.
	// The channel is buffered because signal.Notify never blocks: a signal
	// that finds the channel full is dropped.
	sigC := make(chan os.Signal, 1)
	// TODO(exercise): make SIGTERM and SIGINT arrive on sigC instead of
	// killing the process. Left alone, each has a default action, terminate:
	// no log line, no cleanup, and the shell sees "killed by a signal", not
	// exit status 0. Then have waitSignal watch sigC while main goes on to
	// serve (Serve blocks until the listener closes).
	_ = sigC // TODO(exercise): delete this line once sigC is used

	fmt.Printf("listening on %s pid=%d\n", ln.Addr(), os.Getpid())
	srv := &http.Server{Handler: newHandler(), ReadHeaderTimeout: 10 * time.Second}
	err = srv.Serve(ln)
	// Serve returns when the listener is closed. The process exits right
	// after: requests still being answered are cut off.
	if !errors.Is(err, net.ErrClosed) {
		log.Fatalf("serve: %v", err)
	}
	log.Printf("listener closed, exiting")
}

// waitSignal blocks until a signal arrives on sigC, then closes ln.
//
//lint:ignore U1000 exercise template: calling it is part of the TODO
func waitSignal(sigC <-chan os.Signal, ln net.Listener) {
	// TODO(exercise): wait for a signal, log which one came as
	// "got <signal>, closing the listener" (the test looks for that line),
	// and make main's Serve return: Serve returns only when its listener is
	// closed, with net.ErrClosed, and then main exits 0 by itself.
}

// newHandler serves GET / (who am I) and GET /slow?ms=N (a request that
// stays in flight for N ms, to see what a restart does to it).
func newHandler() http.Handler {
	pid := strconv.Itoa(os.Getpid())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Pid", pid)
		fmt.Fprintf(w, "hello from pid %s\n", pid)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil || ms < 0 || ms > 60000 {
			http.Error(w, "ms must be 0..60000", http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Pid", pid)
		// Send the headers and a first byte now, so the client knows the
		// request is in flight; then finish later.
		fmt.Fprint(w, ".")
		w.(http.Flusher).Flush()
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Fprintf(w, " done after %d ms, pid %s\n", ms, pid)
	})
	return mux
}
