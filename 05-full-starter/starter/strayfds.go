package starter

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// CloseStrayFDsOnExec marks every fd above 2 close-on-exec. Go opens its own
// files close-on-exec, but fds the starter inherited from its parent (a
// shell, a process manager) are not, and exec would hand them to every
// worker, as Perl's start_server does (and to the daemon, --daemonize).
// It lists /proc/self/fd (Linux) or
// /dev/fd (BSD, macOS), and does nothing if it can read neither.
func CloseStrayFDsOnExec() {
	for _, dir := range []string{"/proc/self/fd", "/dev/fd"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
				unix.CloseOnExec(fd)
			}
		}
		return
	}
}
