package main

import (
	_ "embed"
	"net/http"
)

// livePage is GET /live: one WebSocket and one EventSource, shown live —
// the generation and pid each is connected to, every close code and
// reconnection, the event ids as they arrive (a gap would show). Plain HTML
// and JavaScript, nothing loaded from elsewhere: a room can watch a
// restart on a projector.
//
//go:embed live.html
var livePage []byte

func serveLive(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(livePage)
}
