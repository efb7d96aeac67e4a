package proc

// What the stage-05 tests and the comparison with Perl's start_server need
// to know about a running process, from Linux's /proc: the TCP addresses it
// listens on, its resident memory and its CPU time, and whether it is gone.
// (Without /proc, as on macOS, they return errors; Exited reports true.)

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ListenAddrs returns the TCP addresses (host:port) that process pid holds
// a listening socket for: the sockets of /proc/PID/fd that /proc/net/tcp{,6}
// lists as listening. It lets a test start a server on port 0 and learn the
// port the kernel chose without parsing the server's output.
func ListenAddrs(pid int) ([]string, error) {
	held, err := SocketFDs(pid)
	if err != nil {
		return nil, err
	}
	socks, err := Listening()
	if err != nil {
		return nil, err
	}
	var addrs []string
	for _, s := range socks {
		if held[s.Inode] != nil {
			addrs = append(addrs, s.Addr)
		}
	}
	return addrs, nil
}

// WaitListenAddr polls ListenAddrs until pid listens on exactly one TCP
// address, and returns it; it gives up after timeout.
func WaitListenAddr(pid int, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		addrs, err := ListenAddrs(pid)
		if err == nil && len(addrs) == 1 {
			return addrs[0], nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("pid %d listens on %v after %v (err %v), want one TCP address", pid, addrs, timeout, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// RSS returns the resident set size of pid (VmRSS of /proc/PID/status) in KiB.
func RSS(pid int) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("pid %d: no VmRSS", pid)
}

// CPUTicks returns utime+stime of pid in clock ticks (fields 14 and 15 of
// /proc/PID/stat; usually 100 per second).
func CPUTicks(pid int) (int, error) {
	st, err := ReadStat(pid)
	if err != nil {
		return 0, err
	}
	return st.CPUTicks(), nil
}

// Exited reports whether pid has exited: it is gone, or a zombie waiting to
// be reaped.
func Exited(pid int) bool {
	st, err := ReadStat(pid)
	return err != nil || st.Gone()
}
