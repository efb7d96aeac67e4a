// Command perlworker is a test worker: a minimal worker that knows only Perl
// Server::Starter's protocol, written with the standard library alone (it
// does not import package listener, on purpose). Tests run it under our
// start_server to show that a worker written for the Perl starter works
// unchanged. It never sends READY=1, so a starter must judge it by
// --interval.
//
// It reads SERVER_STARTER_PORT ("KEY=FD;KEY=FD", any fd numbers), serves
// GET / and GET /slow?ms=N with X-Pid and X-Generation, prints
// "listening on ADDR pid=PID", and on SIGTERM drains the short way that
// still loses nothing: close the listeners, wait for the Serve loops, answer
// with "Connection: close", give clients a moment, then Shutdown.
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	log.SetPrefix(fmt.Sprintf("[perlworker %d] ", os.Getpid()))
	lns, err := inherited(os.Getenv("SERVER_STARTER_PORT"))
	if err != nil {
		log.Fatal(err)
	}
	sigC := make(chan os.Signal, 1)
	signal.Notify(sigC, syscall.SIGTERM, syscall.SIGINT)

	var draining atomic.Bool
	srv := &http.Server{Handler: handler(&draining), ReadHeaderTimeout: 10 * time.Second}
	var serving sync.WaitGroup
	for _, ln := range lns {
		serving.Add(1)
		go func() {
			defer serving.Done()
			srv.Serve(ln)
		}()
		fmt.Printf("listening on %s pid=%d\n", ln.Addr(), os.Getpid())
	}

	log.Printf("got %v, draining", <-sigC)
	for _, ln := range lns {
		ln.Close()
	}
	serving.Wait()
	draining.Store(true)
	time.Sleep(500 * time.Millisecond) // crude: busy keep-alive clients get their Connection: close
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Fatalf("shutdown: %v", err)
	}
	log.Printf("exiting")
}

// inherited turns SERVER_STARTER_PORT into listeners.
func inherited(env string) ([]net.Listener, error) {
	if env == "" {
		return nil, fmt.Errorf("SERVER_STARTER_PORT is empty or unset: run me under start_server --port")
	}
	var lns []net.Listener
	for _, entry := range strings.Split(env, ";") {
		i := strings.LastIndexByte(entry, '=')
		fd, err := strconv.Atoi(entry[i+1:])
		if i < 0 || err != nil {
			return nil, fmt.Errorf("SERVER_STARTER_PORT entry %q: want KEY=FD", entry)
		}
		f := os.NewFile(uintptr(fd), entry[:i])
		ln, err := net.FileListener(f) // a close-on-exec dup
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("SERVER_STARTER_PORT entry %q: %w", entry, err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

func handler(draining *atomic.Bool) http.Handler {
	pid := strconv.Itoa(os.Getpid())
	gen := os.Getenv("SERVER_STARTER_GENERATION")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Pid", pid)
		w.Header().Set("X-Generation", gen)
		if draining.Load() {
			w.Header().Set("Connection", "close")
		}
		switch r.URL.Path {
		case "/":
			fmt.Fprintf(w, "hello from perlworker pid %s, generation %s\n", pid, gen)
		case "/slow":
			ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
			if err != nil || ms < 0 || ms > 60000 {
				http.Error(w, "ms must be 0..60000", http.StatusBadRequest)
				return
			}
			fmt.Fprint(w, ".")
			w.(http.Flusher).Flush()
			time.Sleep(time.Duration(ms) * time.Millisecond)
			fmt.Fprintf(w, " done after %d ms, pid %s\n", ms, pid)
		default:
			http.NotFound(w, r)
		}
	})
}
