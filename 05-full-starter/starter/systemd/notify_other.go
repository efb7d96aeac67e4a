//go:build !linux

package systemd

import (
	"fmt"
	"net"
	"os"
	"strconv"
)

// NewNotifySockets creates this starter's private notify directory,
// $TMPDIR/start_server-PID-RANDOM (mode 0700), after removing those that
// killed starters left behind (sweepNotifyDirs). logf hears about what was
// removed.
func NewNotifySockets(logf func(string, ...any)) (*NotifySockets, error) {
	sweepNotifyDirs(os.TempDir(), logf)
	dir, err := os.MkdirTemp("", notifyDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, fmt.Errorf("notify socket directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("notify socket directory: %w", err)
	}
	return &NotifySockets{dir: dir}, nil
}

// passCredentials does nothing: the directory's mode keeps others out.
func passCredentials(*net.UnixConn) error { return nil }

// Allowed allows every sender: only the starter's user can reach
// the sockets in its private directory.
func Allowed([]byte) (bool, string) { return true, "" }
