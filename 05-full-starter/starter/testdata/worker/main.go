// Command worker is the test worker of package starter's real-process
// tests. It serves HTTP on every stream socket of SERVER_STARTER_PORT (with
// the zero-error drain on its stop signal) and echoes on every datagram
// socket, and can misbehave on purpose: exit at once, start slowly, ignore
// SIGTERM, take long to stop. With -dump it prints its environment, working
// directory and open fds first, for the tests to inspect.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	pid = os.Getpid()
	gen = os.Getenv("SERVER_STARTER_GENERATION")
)

func main() {
	exitCode := flag.Int("exit", -1, "exit at once with this code")
	failIf := flag.String("fail-if-exists", "", "exit 1 at once if this file exists")
	dump := flag.Bool("dump", false, "print env, cwd and fds first")
	readyAfter := flag.Duration("ready-after", 0, "wait this long before serving")
	notify := flag.Bool("notify", false, "send READY=1 on NOTIFY_SOCKET once serving")
	ignoreTerm := flag.Bool("ignore-term", false, "ignore SIGTERM")
	termDelay := flag.Duration("term-delay", 0, "on the stop signal, wait this long before draining")
	crashIf := flag.String("crash-if-exists", "", "if this file exists at start: serve, say READY=1 (with -notify), then exit 3 after 200ms")
	flag.Parse()

	if *dump {
		dumpSelf() // first, before the runtime opens anything
	}
	if *exitCode >= 0 {
		fmt.Printf("worker pid=%d gen=%s exiting with %d\n", pid, gen, *exitCode)
		os.Exit(*exitCode)
	}
	// Decided at start, before READY=1: a worker that was ready before
	// the file appeared does not crash.
	crash := false
	if *crashIf != "" {
		_, err := os.Stat(*crashIf)
		crash = err == nil
	}
	if *failIf != "" {
		if _, err := os.Stat(*failIf); err == nil {
			fmt.Printf("worker pid=%d gen=%s failing: %s exists\n", pid, gen, *failIf)
			os.Exit(1)
		}
	}
	// Signals first, before anything could be ready.
	sigC := make(chan os.Signal, 4)
	signal.Notify(sigC, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGQUIT, syscall.SIGINT)
	if *ignoreTerm {
		signal.Ignore(syscall.SIGTERM)
	}
	time.Sleep(*readyAfter)

	srv := newServer()
	for _, entry := range strings.Split(os.Getenv("SERVER_STARTER_PORT"), ";") {
		key, fdText, ok := strings.Cut(entry, "=")
		if !ok {
			continue
		}
		fd, err := strconv.Atoi(fdText)
		if err != nil {
			fatal("bad SERVER_STARTER_PORT entry %q", entry)
		}
		f := os.NewFile(uintptr(fd), key)
		typ, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TYPE)
		if err != nil {
			fatal("fd %d: %v", fd, err)
		}
		if typ == syscall.SOCK_DGRAM {
			pc, err := net.FilePacketConn(f)
			if err != nil {
				fatal("fd %d: %v", fd, err)
			}
			f.Close()
			go echo(pc)
			fmt.Printf("listening on %s pid=%d gen=%s\n", pc.LocalAddr(), pid, gen)
			continue
		}
		ln, err := net.FileListener(f)
		if err != nil {
			fatal("fd %d: %v", fd, err)
		}
		f.Close()
		srv.serve(ln)
		fmt.Printf("listening on %s pid=%d gen=%s\n", ln.Addr(), pid, gen)
	}
	if *notify {
		if err := sdNotify("READY=1\nSTATUS=serving"); err != nil {
			fatal("notify: %v", err)
		}
	}
	if crash {
		time.Sleep(200 * time.Millisecond)
		fmt.Printf("worker pid=%d gen=%s crashing: %s exists\n", pid, gen, *crashIf)
		os.Exit(3)
	}
	sig := <-sigC
	fmt.Printf("worker pid=%d gen=%s received %v\n", pid, gen, sig)
	time.Sleep(*termDelay)
	srv.drain(10 * time.Second)
	fmt.Printf("worker pid=%d gen=%s exiting\n", pid, gen)
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "worker pid=%d: "+format+"\n", append([]any{pid}, args...)...)
	os.Exit(2)
}

// dumpSelf prints what the starter gave this process.
func dumpSelf() {
	env := os.Environ()
	sort.Strings(env)
	for _, kv := range env {
		fmt.Printf("dump pid=%d env %s\n", pid, kv)
	}
	wd, _ := os.Getwd()
	fmt.Printf("dump pid=%d cwd %s\n", pid, wd)
	// Probe fds with fcntl rather than listing /proc/self/fd: opening the
	// directory would make the Go runtime open its own poller fds.
	var fds []string
	for fd := 0; fd < 1024; fd++ {
		if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0); errno != 0 {
			continue
		}
		target, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		fds = append(fds, strconv.Itoa(fd)+"="+target)
	}
	fmt.Printf("dump pid=%d fds %s\n", pid, strings.Join(fds, " "))
}

func sdNotify(msg string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return fmt.Errorf("NOTIFY_SOCKET not set")
	}
	if strings.HasPrefix(path, "@") {
		path = "\x00" + path[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(msg))
	return err
}

func echo(pc net.PacketConn) {
	buf := make([]byte, 1500)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		reply := fmt.Sprintf("pid=%d gen=%s got=%s", pid, gen, buf[:n])
		pc.WriteTo([]byte(reply), addr)
	}
}

// server is HTTP with the zero-error drain (see the workshop brief).
type server struct {
	http     *http.Server
	mu       sync.Mutex
	conns    map[net.Conn]bool
	draining bool
	lns      []net.Listener
	serving  sync.WaitGroup
}

func newServer() *server {
	s := &server{conns: map[net.Conn]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.headers(w)
		fmt.Fprintf(w, "%d\n", pid)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		s.headers(w)
		w.WriteHeader(200)
		w.Write([]byte("x"))
		w.(http.Flusher).Flush()
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Fprintf(w, "%d\n", pid)
	})
	s.http = &http.Server{Handler: mux, ConnState: s.connState}
	return s
}

func (s *server) headers(w http.ResponseWriter) {
	w.Header().Set("X-Pid", strconv.Itoa(pid))
	w.Header().Set("X-Generation", gen)
	s.mu.Lock()
	if s.draining {
		w.Header().Set("Connection", "close")
	}
	s.mu.Unlock()
}

func (s *server) connState(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case http.StateNew:
		s.conns[c] = true
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	}
}

func (s *server) serve(ln net.Listener) {
	s.lns = append(s.lns, ln)
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		s.http.Serve(ln)
	}()
}

// drain: close listeners, wait for Serve loops, mark draining, wait for
// connections (grace), then Shutdown with a deadline.
func (s *server) drain(timeout time.Duration) {
	for _, ln := range s.lns {
		ln.Close()
	}
	s.serving.Wait()
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	grace := time.Now().Add(time.Second)
	for time.Now().Before(grace) {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		s.http.Close()
	}
}
