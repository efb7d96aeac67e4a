//go:build ignore

// Exercise 05 (template): drain the WebSocket of /ws.
//
// This is ../example/ws.go with its drain taken out; fill in the TODOs.
// Check with: go test -tags exercise ./05-full-starter/exercise/
// (the test builds ../example with this file in place of its ws.go).
// The answer is ../example/ws.go (diff -u exercise/ws.go example/ws.go).

package main

import (
	"context"
	"net/http"
	"sync"

	"github.com/coder/websocket"
)

// serveWS is GET /ws: a WebSocket (RFC 6455) that echoes every message back
// verbatim. With ?hello=1 it first sends one text message, hello (the /live
// page cannot see the handshake's X-Pid and X-Generation headers).
//
// When the drain begins, it echoes every message it has already read, then
// sends a close frame with status 1012 (Service Restart) and closes: the
// client reconnects, to the next worker, and sends again what it sent after
// our close frame (we do not read it: after a close frame, no data frame
// may follow).
func serveWS(hello string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// TODO(exercise): register the connection with the drain of package
		// listener, before Accept hijacks it (why before? why at all? see
		// LongLived's doc), and tell the drain when the handler is done.
		var stop <-chan struct{} // TODO(exercise): the stop channel LongLived returns (nil never fires)
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return // Accept has answered the client
		}
		defer c.CloseNow()
		ctx := context.Background() // cancelling a Read's context would close the connection
		if r.URL.Query().Has("hello") {
			if err := c.Write(ctx, websocket.MessageText, []byte(hello)); err != nil {
				return
			}
		}

		// The reader echoes; mu orders its echoes with our close frame.
		var mu sync.Mutex
		closing := false
		readDone := make(chan struct{})
		go func() {
			defer close(readDone)
			for {
				typ, msg, err := c.Read(ctx)
				if err != nil {
					return // the client closed, or the connection ended
				}
				mu.Lock()
				if !closing {
					err = c.Write(ctx, typ, msg)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()

		select {
		case <-stop:
			// TODO(exercise): the drain has begun. Let an echo in progress
			// finish and stop the reader from echoing more (mu, closing);
			// then close with status 1012, Service Restart (Conn.Close does
			// the close handshake), and wait for the reader to end.
		case <-readDone:
		}
	}
}
