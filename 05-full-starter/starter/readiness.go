package starter

import (
	"strconv"
	"strings"

	"hotdeploy/05-full-starter/starter/systemd"
)

// notifyMsg is one sd_notify(3) datagram: newline-separated KEY=VALUE
// assignments. Only the keys the starter acts on are kept; others
// (RELOADING=1, MAINPID=...) are ignored.
type notifyMsg struct {
	ready    bool   // READY=1: the worker serves; old workers may go
	stopping bool   // STOPPING=1: logged
	status   string // STATUS=...: free text, logged
}

// parseNotify parses a datagram. Unknown keys and malformed lines are
// ignored, as systemd does.
func parseNotify(b []byte) notifyMsg {
	var m notifyMsg
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch k {
		case "READY":
			m.ready = v == "1"
		case "STOPPING":
			m.stopping = v == "1"
		case "STATUS":
			m.status = v
		}
	}
	return m
}

// notifyEvent is a message that arrived on the NOTIFY_SOCKET of worker gen.
type notifyEvent struct {
	gen int
	msg notifyMsg
}

// readiness receives the workers' readiness messages. Every worker gets
// its own NOTIFY_SOCKET (made private by systemd.NotifySockets), so a
// message is attributed to a worker by the socket it arrived on; this also
// counts messages from processes the worker forked (systemd's
// NotifyAccess=all, per worker).
type readiness struct {
	socks  *systemd.NotifySockets
	eventC chan<- notifyEvent
	doneC  <-chan struct{} // closed when Run returns: goroutines stop sending
	logf   func(string, ...any)
}

// listen creates the NOTIFY_SOCKET of generation gen and starts a goroutine
// that delivers each datagram from an allowed sender to eventC, until the
// returned close function is called or doneC is closed. The caller owns the
// socket: it calls close once the worker has been reaped.
func (r *readiness) listen(gen int) (path string, closeFn func(), err error) {
	conn, path, err := r.socks.Listen("w-" + strconv.Itoa(gen) + ".sock")
	if err != nil {
		return "", nil, err
	}
	go func() {
		buf := make([]byte, 4096)
		oob := make([]byte, 512)
		warned := false
		for {
			n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
			if err != nil {
				return // closed
			}
			if ok, who := systemd.Allowed(oob[:oobn]); !ok {
				if !warned {
					r.logf("ignoring messages on the NOTIFY_SOCKET of generation %d from %s: not start_server's user", gen, who)
				}
				warned = true
				continue
			}
			select {
			case r.eventC <- notifyEvent{gen: gen, msg: parseNotify(buf[:n])}:
			case <-r.doneC:
				return
			}
		}
	}()
	return path, func() { conn.Close(); r.socks.Remove(path) }, nil
}
