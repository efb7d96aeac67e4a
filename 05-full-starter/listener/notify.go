package listener

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// Ready tells the supervisor that this worker is serving: it sends READY=1
// to the unix datagram socket named by NOTIFY_SOCKET (systemd's sd_notify
// protocol, which our start_server speaks too). Call it once every listener
// is being served and the stop signals are handled (Serve's OnServing hook is
// that moment). Without NOTIFY_SOCKET it does nothing and returns nil.
//
// Ready blocks only for the one datagram send (bounded by a short timeout).
// NOTIFY_SOCKET is left set, for Status and Stopping.
func Ready() error { return notify(realEnv, "READY=1") }

// Status sends a one-line free-form status ("STATUS=..."), as Ready does.
// Newlines in s are replaced by spaces: each line of a notification is one
// assignment.
func Status(s string) error {
	return notify(realEnv, "STATUS="+strings.ReplaceAll(s, "\n", " "))
}

// Stopping tells the supervisor that this worker has begun to shut down
// ("STOPPING=1"), as Ready does.
func Stopping() error { return notify(realEnv, "STOPPING=1") }

// notify sends msg as one datagram to NOTIFY_SOCKET, if set. A leading "@"
// names a socket in Linux's abstract namespace; Go's net package translates
// it to the leading NUL byte the kernel expects.
func notify(env osEnv, msg string) error {
	path, _ := env.lookup(envNotifySocket)
	if path == "" {
		return nil
	}
	if path[0] != '/' && path[0] != '@' {
		return fmt.Errorf("listener: NOTIFY_SOCKET %q: want an absolute path or @abstract name", path)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("listener: notify %s: %w", path, err)
	}
	defer conn.Close()
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(msg)); err != nil {
		return fmt.Errorf("listener: notify %s: send %q: %w", path, msg, err)
	}
	return nil
}
