package starter

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// notifyDir is the starter's private directory (mode 0700) for the
// readiness sockets.
//
// Every worker gets its own NOTIFY_SOCKET there (w-GEN.sock), so a message
// is attributed to a worker by the socket it arrived on. This works on every
// Unix (no SO_PASSCRED/SCM_CREDENTIALS needed) and also counts messages from
// processes the worker forked (systemd's NotifyAccess=all, per worker). Only
// the starter's user can reach the sockets, because of the directory's mode.
type notifyDir struct{ dir string }

func newNotifyDir() (*notifyDir, error) {
	dir, err := os.MkdirTemp("", "start_server-")
	if err != nil {
		return nil, fmt.Errorf("notify socket directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("notify socket directory: %w", err)
	}
	return &notifyDir{dir: dir}, nil
}

// listen creates the NOTIFY_SOCKET of generation gen and starts a goroutine
// that delivers each datagram to eventC, until the returned close function is
// called or doneC is closed. The caller owns the socket: it calls close once
// the worker has been reaped (close removes the socket file too).
func (d *notifyDir) listen(gen int, eventC chan<- notifyEvent, doneC <-chan struct{}) (path string, closeFn func(), err error) {
	path = filepath.Join(d.dir, "w-"+strconv.Itoa(gen)+".sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return "", nil, fmt.Errorf("notify socket: %w", err)
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return // closed
			}
			select {
			case eventC <- notifyEvent{gen: gen, msg: parseNotify(buf[:n])}:
			case <-doneC:
				return
			}
		}
	}()
	return path, func() { conn.Close(); os.Remove(path) }, nil
}

// Close removes the directory and whatever is left in it.
func (d *notifyDir) Close() { os.RemoveAll(d.dir) }

// upstream tells the starter's own supervisor about the starter, with the
// same protocol, when the starter itself was started with NOTIFY_SOCKET
// (a systemd unit with Type=notify): READY=1 once a worker is running,
// STATUS= on every change of generation, STOPPING=1 at shutdown. A nil
// *upstream sends nothing.
type upstream struct{ addr *net.UnixAddr }

// newUpstream returns nil if socket (the starter's NOTIFY_SOCKET) is empty.
// A leading '@' names an abstract socket.
func newUpstream(socket string) *upstream {
	if socket == "" {
		return nil
	}
	if strings.HasPrefix(socket, "@") {
		socket = "\x00" + socket[1:]
	}
	return &upstream{addr: &net.UnixAddr{Name: socket, Net: "unixgram"}}
}

// send sends one datagram; it does not block beyond the send and ignores
// errors (systemd may be gone; serving matters more).
func (u *upstream) send(msg string) {
	if u == nil {
		return
	}
	c, err := net.DialUnix("unixgram", nil, u.addr)
	if err != nil {
		return
	}
	defer c.Close()
	c.Write([]byte(msg))
}
