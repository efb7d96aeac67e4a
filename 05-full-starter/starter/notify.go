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

// notifyDir makes the workers' readiness sockets. Every worker gets its
// own NOTIFY_SOCKET (…/w-GEN.sock), so a message is attributed to a worker
// by the socket it arrived on; this also counts messages from processes the
// worker forked (systemd's NotifyAccess=all, per worker). Only the
// starter's user (and root) can send to them.
//
// On Linux the sockets are in the abstract namespace
// (NOTIFY_SOCKET=@start_server-PID-RANDOM/w-GEN.sock, which systemd's
// protocol allows): nothing on disk, so nothing is left behind when the
// starter is killed. Abstract sockets have no file permissions, so the
// sender of every datagram is checked instead (SO_PASSCRED; see
// notify_linux.go). Elsewhere they are files in a private directory (mode
// 0700) $TMPDIR/start_server-PID-RANDOM, removed at exit; the directories
// of starters that were killed are found by that name and removed by the
// next starter (sweepNotifyDirs).
type notifyDir struct {
	dir      string // the directory; "" with abstract sockets
	abstract string // the abstract name prefix, "@start_server-PID-RANDOM"
	logf     func(string, ...any)
}

// notifyDirPrefix starts the names of notify directories and abstract
// socket prefixes; the starter's pid and a dash follow.
const notifyDirPrefix = "start_server-"

// listen creates the NOTIFY_SOCKET of generation gen and starts a goroutine
// that delivers each datagram from an allowed sender to eventC, until the
// returned close function is called or doneC is closed. The caller owns the
// socket: it calls close once the worker has been reaped (close removes the
// socket file too, if there is one).
func (d *notifyDir) listen(gen int, eventC chan<- notifyEvent, doneC <-chan struct{}) (path string, closeFn func(), err error) {
	name := "w-" + strconv.Itoa(gen) + ".sock"
	if d.abstract != "" {
		path = d.abstract + "/" + name
	} else {
		path = filepath.Join(d.dir, name)
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return "", nil, fmt.Errorf("notify socket: %w", err)
	}
	if err := passCredentials(conn); err != nil {
		conn.Close()
		return "", nil, fmt.Errorf("notify socket: %w", err)
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
			if ok, who := senderAllowed(oob[:oobn]); !ok {
				if !warned && d.logf != nil {
					d.logf("ignoring messages on the NOTIFY_SOCKET of generation %d from %s: not start_server's user", gen, who)
				}
				warned = true
				continue
			}
			select {
			case eventC <- notifyEvent{gen: gen, msg: parseNotify(buf[:n])}:
			case <-doneC:
				return
			}
		}
	}()
	return path, func() {
		conn.Close()
		if d.abstract == "" {
			os.Remove(path)
		}
	}, nil
}

// Close removes the directory and whatever is left in it (nothing to do
// with abstract sockets).
func (d *notifyDir) Close() {
	if d.dir != "" {
		os.RemoveAll(d.dir)
	}
}

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
