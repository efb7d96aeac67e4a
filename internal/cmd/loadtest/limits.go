package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// checkFiles makes sure this process may open a file descriptor per client
// and some to spare: it raises the soft RLIMIT_NOFILE up to the hard one
// if needed (Go does so at start since 1.19, but a wrapper may have lowered
// it) and fails with what to do when even the hard limit is too low.
func checkFiles(clients int) error {
	need := uint64(clients) + 256
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max >= need {
		lim.Cur = need
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("raise the open files limit to %d: %w", need, err)
		}
		return nil
	}
	return fmt.Errorf("-c %d needs %d open files, and the hard limit is %d: raise it (ulimit -Hn, or /etc/security/limits.conf) or use fewer clients",
		clients, need, lim.Max)
}

// backlogNote says what caps the listen backlog, on Linux: the accept queue
// that a reconnect storm overflows.
func backlogNote(backlog int) string {
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			return "?"
		}
		return strings.TrimSpace(string(b))
	}
	if _, err := os.Stat("/proc/sys/net/core/somaxconn"); err != nil {
		return ""
	}
	set := "start_server's default,"
	if backlog > 0 {
		set = fmt.Sprintf("%d (-backlog); start_server's default is", backlog)
	}
	return fmt.Sprintf("listen backlog: %s net.core.somaxconn = %s (tcp_max_syn_backlog %s, syncookies %s)", set,
		read("/proc/sys/net/core/somaxconn"), read("/proc/sys/net/ipv4/tcp_max_syn_backlog"), read("/proc/sys/net/ipv4/tcp_syncookies"))
}

// tcpCounters reads the kernel's TCP counters that tell a reconnect storm's
// cause (Linux; nil elsewhere): SYNs sent again (TCPSynRetrans), SYNs
// dropped because an accept queue was full (ListenOverflows, ListenDrops).
// They count for the whole network namespace: other programs' connections
// too.
func tcpCounters() map[string]int64 {
	b, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return nil
	}
	var head []string
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "TcpExt:" {
			continue
		}
		if head == nil {
			head = f
			continue
		}
		for i := 1; i < len(f) && i < len(head); i++ {
			switch head[i] {
			case "TCPSynRetrans", "ListenOverflows", "ListenDrops":
				var n int64
				fmt.Sscan(f[i], &n)
				out[head[i]] = n
			}
		}
		break
	}
	return out
}
