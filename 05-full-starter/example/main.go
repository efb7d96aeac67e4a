// Command example is the demo worker of stage 05: an HTTP server built on
// package listener, meant to run under start_server (ours or Perl's), under
// systemd socket activation, or on its own.
//
//	go build -o /tmp/worker ./05-full-starter/example
//	start_server --port 127.0.0.1:8080 -- /tmp/worker   # under a starter
//	/tmp/worker -addr 127.0.0.1:8080                     # on its own
//	curl -i http://127.0.0.1:8080/                       # X-Pid, X-Generation, X-Version
//	curl -N 'http://127.0.0.1:8080/slow?ms=3000'         # a request that stays in flight
//	curl -N 'http://127.0.0.1:8080/events?ms=500'        # Server-Sent Events
//	open http://127.0.0.1:8080/live                      # a WebSocket and an EventSource, live
//
// Build with -ldflags "-X main.version=v2" to tell deploys apart.
//
// SIGTERM (what start_server sends to an old worker) and SIGINT start the
// drain of package listener; a second one cuts the drain short. The exit
// status is 0 after a complete drain, 1 if connections had to be cut.
//
// The drain closes the long-lived connections (/ws with status 1012, /events
// with a "retry:" line) all at once, or one by one over -close-spread (or
// $CLOSE_SPREAD): every client reconnects, and spreading the closes spreads
// the reconnections over the new worker.
package main

import (
	"cmp"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"hotdeploy/05-full-starter/listener"
)

// version is set at build time: go build -ldflags "-X main.version=v2".
var version = "dev"

func main() {
	os.Exit(run())
}

func run() int {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on when no starter passed sockets (port 0: any free port)")
	drain := flag.Duration("drain", listener.DefaultDrainTimeout,
		"longest time to drain connections after SIGTERM (keep it shorter than start_server's --kill-timeout)")
	spreadDefault, err := time.ParseDuration(cmp.Or(os.Getenv("CLOSE_SPREAD"), "0s"))
	if err != nil || spreadDefault < 0 {
		fmt.Fprintf(os.Stderr, "example: CLOSE_SPREAD must be a duration >= 0 (e.g. 2s), got %q\n", os.Getenv("CLOSE_SPREAD"))
		return 2
	}
	spread := flag.Duration("close-spread", spreadDefault,
		"spread the closes of long-lived connections (/ws, /events) over this window from the start of the drain, oldest first (0: all at once; at most half of -drain; default from $CLOSE_SPREAD)")
	flag.Parse()
	if *spread < 0 {
		fmt.Fprintf(os.Stderr, "example: -close-spread must be >= 0, got %v\n", *spread)
		return 2
	}
	if *drain <= 0 {
		fmt.Fprintf(os.Stderr, "example: -drain must be positive, got %v\n", *drain)
		return 2
	}
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "example: unexpected argument %q\n", flag.Arg(0))
		return 2
	}
	pid := os.Getpid()
	log.SetPrefix(fmt.Sprintf("[pid %d] ", pid))
	// Not unset by listener: it is information, not a resource.
	gen := os.Getenv("SERVER_STARTER_GENERATION")
	if gen == "" {
		gen = "0" // not under Server::Starter
	}

	socks, err := listener.Sockets(*addr)
	if err != nil {
		log.Printf("%v", err)
		return 1
	}
	lns := listener.StreamListeners(socks, func(s listener.Socket) {
		log.Printf("ignoring datagram socket %q: this worker serves HTTP only", s.Name)
	})
	if len(lns) == 0 {
		log.Printf("no stream socket to serve (the starter passed none)")
		return 1
	}

	srv := &http.Server{Handler: newHandler(pid, gen, version), ReadHeaderTimeout: 10 * time.Second}
	err = listener.Serve(srv, lns,
		listener.WithDrainTimeout(*drain),
		listener.WithCloseSpread(*spread),
		listener.WithLogger(log.Printf),
		listener.OnServing(func() {
			// Signals are handled by now, so telling the starter we are
			// ready cannot get us killed by the TERM that follows.
			for _, ln := range lns {
				fmt.Printf("listening on %s pid=%d\n", ln.Addr(), pid)
			}
			log.Printf("generation %s, version %s, sockets from %s", gen, version, socks[0].From)
			if err := listener.Ready(); err != nil {
				log.Printf("%v", err)
			}
		}),
		listener.OnDraining(func() {
			if err := listener.Stopping(); err != nil {
				log.Printf("%v", err)
			}
		}),
	)
	if err != nil {
		log.Printf("exiting: %v", err)
		return 1
	}
	log.Printf("exiting")
	return 0
}
