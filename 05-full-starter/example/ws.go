package main

import (
	"context"
	"net/http"
	"sync"

	"github.com/coder/websocket"

	"hotdeploy/05-full-starter/listener"
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
		// Before Accept hijacks the connection: Shutdown would neither
		// tell us about the drain nor wait for us.
		stop, done := listener.LongLived(r)
		defer done()
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
			// An echo in progress finishes first: whatever was read
			// before this point has been echoed.
			mu.Lock()
			closing = true
			mu.Unlock()
			// The close handshake: our frame, the client's answer (read by
			// the reader), then the TCP close. At most 5 s for a client
			// that does not answer; the drain deadline bounds it too.
			c.Close(websocket.StatusServiceRestart, "service restart")
			<-readDone
		case <-readDone:
		}
	}
}
