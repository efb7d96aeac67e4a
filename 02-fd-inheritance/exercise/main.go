// Exercise 02 (template): hand the listening socket to the next image.
//
// This is stage 02 with the heart of reexec removed; fill in the TODOs.
// They say what to do and why, not which calls to write: finding those in
// the docs (package net, golang.org/x/sys/unix) is part of the exercise.
// Stuck? HINTS.md, next to this file, has the steps.
// Check with: go test -tags exercise ./02-fd-inheritance/exercise/
// The answer is ../main.go (diff -u exercise/main.go main.go).
//
// Stage 02: the listening socket survives exec.
//
// As in stage 01, SIGTERM or SIGINT closes the listener and the program
// exits. New: on SIGHUP the program replaces itself with a fresh copy of its
// binary (exec: same PID, new program image) and hands the new image the
// listening socket. The socket never closes, so no client is refused — but
// every request in flight dies with the old image.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// envListenFD tells a re-executed image which fd holds its listening socket.
const envListenFD = "HOTDEPLOY_LISTEN_FD"

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (port 0: any free port)")
	flag.Parse()
	log.SetPrefix(fmt.Sprintf("[pid %d] ", os.Getpid()))

	ln, err := listen(*addr)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}

	// Install the handler before we announce that we are listening: a signal
	// that arrives earlier would otherwise kill us with the default action.
	// The channel is buffered because signal.Notify never blocks: a signal
	// that finds the channel full is dropped.
	sigC := make(chan os.Signal, 1)
	signal.Notify(sigC, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go waitSignal(sigC, ln)

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

// waitSignal blocks until a signal arrives on sigC. SIGHUP re-executes the
// program with ln inherited; any other signal closes ln.
func waitSignal(sigC chan os.Signal, ln net.Listener) {
	for sig := range sigC {
		if sig == syscall.SIGHUP {
			log.Printf("got %v, re-executing with the listener inherited", sig)
			err := reexec(ln.(*net.TCPListener))
			// exec returns only on error. Catch SIGHUP again (reexec
			// ignored it) and keep serving.
			signal.Notify(sigC, syscall.SIGHUP)
			log.Printf("re-exec failed, still serving: %v", err)
			continue
		}
		log.Printf("got %v, closing the listener", sig)
		ln.Close()
		return
	}
}

// listen returns the listener this image inherited from its previous image
// (fd number in $HOTDEPLOY_LISTEN_FD), or, on a first start, a new one on
// addr.
func listen(addr string) (net.Listener, error) {
	s := os.Getenv(envListenFD)
	if s == "" {
		return net.Listen("tcp", addr)
	}
	os.Unsetenv(envListenFD) // a later re-exec sets it again
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

// reexec replaces the running program with a fresh image of its binary,
// keeping ln open. It returns only if exec failed.
//
// Go opens every fd with FD_CLOEXEC, and the kernel closes such fds on exec.
// Clearing the flag on the listener's fd is what lets the socket survive. All
// other fds, including every accepted connection, keep the flag: they close,
// and the requests on them are cut off.
func reexec(ln *net.TCPListener) error {
	// TODO(exercise): make the listening socket survive the exec: clear
	// FD_CLOEXEC on the listener's fd (and only there; see above), and keep
	// the fd's number for the new image. A net.TCPListener does not hand out
	// its fd directly: the runtime lends it to a function you give it, for
	// the length of the call, so that nothing closes it meanwhile. The
	// number stays valid after that call as long as ln stays open, and
	// nothing closes ln before the exec. Read the number there, every time:
	// it is not always 3 (an image that inherited the socket holds it on
	// another fd, see listen). Return any error, with context: the caller
	// logs it and keeps serving.
	fd := -1 // TODO(exercise): the listener's fd number
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	// TODO(exercise): tell the new image which fd holds its socket: listen
	// reads it from the environment.
	env := os.Environ() // TODO(exercise): add envListenFD=<fd>
	_ = fd              // TODO(exercise): delete this line once fd is used
	// Exec resets every caught signal to its default action, and SIGHUP's is
	// to terminate: a HUP between exec and the new image's signal.Notify
	// would kill the only process holding the socket. An ignored signal
	// stays ignored across exec, and Notify in the new image catches it
	// again.
	signal.Ignore(syscall.SIGHUP)
	return unix.Exec(exe, os.Args, env)
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
