//go:build !linux

package starter

import (
	"fmt"
	"net"
	"os"
	"strconv"
)

// newNotifyDir creates this starter's private notify directory,
// $TMPDIR/start_server-PID-RANDOM (mode 0700), after removing those that
// killed starters left behind (sweepNotifyDirs). logf hears about what was
// removed.
func newNotifyDir(logf func(string, ...any)) (*notifyDir, error) {
	sweepNotifyDirs(os.TempDir(), logf)
	dir, err := os.MkdirTemp("", notifyDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, fmt.Errorf("notify socket directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("notify socket directory: %w", err)
	}
	return &notifyDir{dir: dir, logf: logf}, nil
}

// passCredentials does nothing: the directory's mode keeps others out.
func passCredentials(*net.UnixConn) error { return nil }

// senderAllowed allows every sender: only the starter's user can reach
// the sockets in its private directory.
func senderAllowed([]byte) (bool, string) { return true, "" }
