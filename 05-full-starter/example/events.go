package main

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"hotdeploy/05-full-starter/listener"
)

// Limits of GET /events.
const (
	defaultEventMS = 100
	maxEventMS     = 60000
	// eventRetryMS is the "retry:" the stream ends with during a drain:
	// how long an EventSource waits before it reconnects (browsers wait
	// about 3 s otherwise).
	eventRetryMS = 100
)

// serveEvents is GET /events: Server-Sent Events, one every ?ms=M
// milliseconds (default 100). Event N has "id: N" and "data: GEN PID
// VERSION". The ids count 1, 2, 3… per stream; a request with
// Last-Event-ID: K continues with K+1, so any worker of any generation
// resumes any stream (nothing is kept between requests).
//
// When the drain begins, it sends a "retry:" line and ends the response
// cleanly (the last chunk of the chunked body), never a reset: the client
// reconnects to the next worker with the last id it has seen.
func serveEvents(pidS, gen, version string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ms := defaultEventMS
		if s := r.URL.Query().Get("ms"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > maxEventMS {
				http.Error(w, fmt.Sprintf("ms must be 1..%d", maxEventMS), http.StatusBadRequest)
				return
			}
			ms = n
		}
		next := uint64(1)
		if s := r.Header.Get("Last-Event-ID"); s != "" {
			last, err := strconv.ParseUint(s, 10, 63)
			if err != nil {
				http.Error(w, "Last-Event-ID must be a number", http.StatusBadRequest)
				return
			}
			next = last + 1
		}

		stop, done := listener.LongLived(r)
		defer done()
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		rc := http.NewResponseController(w)
		tick := time.NewTicker(time.Duration(ms) * time.Millisecond)
		defer tick.Stop()
		for id := next; ; id++ {
			// Checked first: a request that reaches this worker during
			// its drain (on a keep-alive connection) gets no event, only
			// the retry line and the end.
			select {
			case <-stop:
				fmt.Fprintf(w, "retry: %d\n\n", eventRetryMS)
				return // net/http ends the chunked body
			default:
			}
			fmt.Fprintf(w, "id: %d\ndata: %s %s %s\n\n", id, gen, pidS, version)
			if err := rc.Flush(); err != nil {
				return // the client is gone
			}
			select {
			case <-stop: // ended above
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
		}
	}
}
