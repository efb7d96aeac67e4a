package main

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// maxSlow caps GET /slow?ms=N.
const maxSlow = 60000

// newHandler serves GET / (who am I) and GET /slow?ms=N (a request that stays
// in flight for N ms), and the long-lived connections: GET /ws (a WebSocket
// echo, ws.go), GET /events (Server-Sent Events, events.go) and GET /live (a
// page that shows both across restarts, live.go). Every response carries
// X-Pid, X-Generation and X-Version, so that a client can tell which worker
// of which deploy answered.
func newHandler(pid int, gen, version string) http.Handler {
	pidS := strconv.Itoa(pid)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from pid %s, generation %s, version %s\n", pidS, gen, version)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil || ms < 0 || ms > maxSlow {
			http.Error(w, fmt.Sprintf("ms must be 0..%d", maxSlow), http.StatusBadRequest)
			return
		}
		// Headers and a first byte now: the client knows the request is
		// in flight. The rest after ms, unless the client goes away.
		fmt.Fprint(w, ".")
		w.(http.Flusher).Flush()
		t := time.NewTimer(time.Duration(ms) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, " done after %d ms, pid %s, generation %s\n", ms, pidS, gen)
	})
	mux.Handle("GET /ws", serveWS(fmt.Sprintf("hello %s %s %s", gen, pidS, version)))
	mux.Handle("GET /events", serveEvents(pidS, gen, version))
	mux.HandleFunc("GET /live", serveLive)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Pid", pidS)
		h.Set("X-Generation", gen)
		h.Set("X-Version", version)
		mux.ServeHTTP(w, r)
	})
}
