package systemd

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// NotifySockets makes the workers' NOTIFY_SOCKETs so that only the
// starter's user (and root) can send to them. On Linux they are abstract
// (@start_server-PID-RANDOM/NAME): nothing on disk is left behind by a
// killed starter, and with no file permissions the sender of each datagram
// is checked instead (Allowed). Elsewhere they are files in a 0700
// directory, $TMPDIR/start_server-PID-RANDOM, removed by Close, or by the
// next starter if this one is killed (sweepNotifyDirs).
type NotifySockets struct {
	dir      string // the directory; "" with abstract sockets
	abstract string // the abstract name prefix, "@start_server-PID-RANDOM"
}

// notifyDirPrefix starts the names of notify directories and abstract
// socket prefixes; the starter's pid and a dash follow.
const notifyDirPrefix = "start_server-"

// Listen creates the datagram socket called name and returns it with the
// value for the worker's NOTIFY_SOCKET. The caller owns the socket and
// calls Remove(path) once done with it.
func (d *NotifySockets) Listen(name string) (*net.UnixConn, string, error) {
	path := filepath.Join(d.dir, name)
	if d.abstract != "" {
		path = d.abstract + "/" + name
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, "", fmt.Errorf("notify socket: %w", err)
	}
	if err := passCredentials(conn); err != nil {
		conn.Close()
		return nil, "", fmt.Errorf("notify socket: %w", err)
	}
	return conn, path, nil
}

// Remove removes the socket file at path, if sockets are files.
func (d *NotifySockets) Remove(path string) {
	if d.abstract == "" {
		os.Remove(path)
	}
}

// Close removes the directory and whatever is left in it (nothing to do
// with abstract sockets).
func (d *NotifySockets) Close() {
	if d.dir != "" {
		os.RemoveAll(d.dir)
	}
}
