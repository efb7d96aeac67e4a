// Package listener is the worker's half of a zero-downtime restart: it finds
// the listening sockets a starter passed down (Server::Starter's
// SERVER_STARTER_PORT, or systemd's LISTEN_FDS), or binds an address itself
// when the program runs on its own; it tells a supervisor when the worker is
// ready (NOTIFY_SOCKET); and it serves HTTP until told to stop, then drains
// so that no client sees an error while another process takes over the same
// sockets.
//
// A worker typically does, in this order:
//
//	lns, err := listener.Listeners("127.0.0.1:8080") // once, early in main
//	srv := &http.Server{Handler: h}
//	err = listener.Serve(srv, lns,
//		listener.OnServing(func() { _ = listener.Ready() }))
//
// Serve returns after SIGTERM or SIGINT and a complete drain; main then exits.
//
// Long-lived connections — WebSockets, event streams (Server-Sent Events),
// long polls — are a case of their own: http.Server.Shutdown neither tells
// their handlers that the server is stopping nor waits for a hijacked
// connection. A handler that keeps its connection open registers it:
//
//	stop, done := listener.LongLived(r) // before websocket.Accept
//	defer done()
//	...
//	<-stop // the drain has begun: end cleanly, e.g. close with 1012
//
// and the drain tells it to end (all at once, or spread over a window with
// WithCloseSpread), then waits for done, up to the drain deadline. See the
// examples of LongLived.
package listener
