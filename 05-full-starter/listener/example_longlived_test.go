package listener_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"

	"hotdeploy/05-full-starter/listener"
)

// An event stream (Server-Sent Events) that ends cleanly when the drain
// begins: a last "retry:" line (how long the browser waits before it
// reconnects, to the next worker), then the end of the response. Serve
// waits for it, then returns; with keep-alive, the connection is closed as
// soon as the response is complete.
func ExampleLongLived() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		stop, done := listener.LongLived(r)
		defer done()
		w.Header().Set("Content-Type", "text/event-stream")
		for id := 1; ; id++ {
			fmt.Fprintf(w, "id: %d\ndata: tick\n\n", id)
			w.(http.Flusher).Flush()
			select {
			case <-stop:
				fmt.Fprint(w, "retry: 100\n\n")
				return
			case <-r.Context().Done(): // the client went away
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	})

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, stopServer := context.WithCancel(context.Background())
	defer stopServer()
	served := make(chan error, 1)
	go func() {
		served <- listener.Serve(&http.Server{Handler: mux}, []net.Listener{ln},
			listener.WithSignals(), listener.WithContext(ctx))
	}()

	resp, err := http.Get("http://" + ln.Addr().String() + "/events")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "id: 3" {
			stopServer() // as SIGTERM would
		}
		if strings.HasPrefix(line, "id: ") || strings.HasPrefix(line, "retry: ") {
			fmt.Println(line)
		}
	}
	fmt.Println("end of stream, error:", sc.Err())
	fmt.Println("Serve returned:", <-served)
	// Output:
	// id: 1
	// id: 2
	// id: 3
	// retry: 100
	// end of stream, error: <nil>
	// Serve returned: <nil>
}

// A WebSocket (github.com/coder/websocket) that the drain closes with status
// 1012, Service Restart: the client knows to reconnect. Without LongLived,
// Serve would return at once, since http.Server.Shutdown does not wait for
// hijacked connections, and the process would exit under the WebSocket
// (the client would see 1006, an abnormal close).
func ExampleLongLived_webSocket() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		stop, done := listener.LongLived(r) // before the hijack
		defer done()
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		_ = c.Write(r.Context(), websocket.MessageText, []byte("hello"))
		// Read in the background: it answers the client's close frame
		// (and pings) while we wait.
		readErr := make(chan error, 1)
		go func() {
			_, _, err := c.Read(context.Background())
			readErr <- err
		}()
		select {
		case <-stop:
			c.Close(websocket.StatusServiceRestart, "restarting")
		case <-readErr: // the client closed
		}
	})

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, stopServer := context.WithCancel(context.Background())
	defer stopServer()
	served := make(chan error, 1)
	go func() {
		served <- listener.Serve(&http.Server{Handler: mux}, []net.Listener{ln},
			listener.WithSignals(), listener.WithContext(ctx))
	}()

	c, _, err := websocket.Dial(context.Background(), "ws://"+ln.Addr().String()+"/ws", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, msg, _ := c.Read(context.Background())
	fmt.Println("got:", string(msg))
	stopServer() // as SIGTERM would
	_, _, err = c.Read(context.Background())
	fmt.Println("close status:", websocket.CloseStatus(err))
	fmt.Println("Serve returned:", <-served)
	// Output:
	// got: hello
	// close status: StatusServiceRestart
	// Serve returned: <nil>
}
