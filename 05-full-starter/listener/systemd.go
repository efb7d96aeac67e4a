package listener

import (
	"fmt"
	"strconv"
	"strings"
)

// listenFDsStart is the first descriptor of systemd's socket activation
// protocol (SD_LISTEN_FDS_START): the sockets are on 3, 4, ... 3+N-1.
const listenFDsStart = 3

// parseListenFDs interprets systemd's LISTEN_FDS, LISTEN_PID and
// LISTEN_FDNAMES for the process whose PID is self.
//
// The variables are meant for one process only: when LISTEN_PID is unset or
// names another process (a parent that did not clean up, say), the sockets
// are not ours and parseListenFDs returns no specs and no error, as
// sd_listen_fds(3) does. Only then are the other two variables looked at, so
// a malformed LISTEN_FDS meant for someone else is no error here either.
//
// LISTEN_FDNAMES, when set, must hold exactly one ":"-separated name per
// descriptor; an empty or missing name is "unknown", systemd's default.
func parseListenFDs(fds, pid, names string, self int) ([]Spec, error) {
	if pid == "" {
		return nil, nil
	}
	p, err := strconv.Atoi(pid)
	if err != nil || p <= 0 {
		return nil, fmt.Errorf("LISTEN_PID %q: not a process id", pid)
	}
	if p != self {
		return nil, nil
	}
	if fds == "" {
		return nil, fmt.Errorf("LISTEN_PID is set but LISTEN_FDS is not")
	}
	n, err := parseFD(fds)
	if err != nil || n > maxFD-listenFDsStart {
		return nil, fmt.Errorf("LISTEN_FDS %q: not a descriptor count", fds)
	}
	var list []string
	if names != "" {
		list = strings.Split(names, ":")
		if len(list) != n {
			return nil, fmt.Errorf("LISTEN_FDNAMES %q: %d names for %d descriptors", names, len(list), n)
		}
	}
	specs := make([]Spec, n)
	for i := range specs {
		name := "unknown"
		if i < len(list) && list[i] != "" {
			name = list[i]
		}
		specs[i] = Spec{Name: name, FD: listenFDsStart + i}
	}
	return specs, nil
}
