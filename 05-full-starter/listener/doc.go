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
package listener
