package starter

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ParseSignal turns a signal name as Server::Starter accepts it into a
// signal: "TERM", "SIGTERM", "term" and "sigterm" all mean SIGTERM. A
// decimal number is accepted too ("15"). The names are the platform's own
// (unix.SignalNum). It does not block.
func ParseSignal(name string) (syscall.Signal, error) {
	s := strings.ToUpper(strings.TrimSpace(name))
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 { // real-time signals have numbers, not names
			return 0, fmt.Errorf("invalid signal number %q", name)
		}
		return syscall.Signal(n), nil
	}
	if sig := unix.SignalNum("SIG" + strings.TrimPrefix(s, "SIG")); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q (use a name such as TERM, SIGUSR1 or hup)", name)
}

// signalName is the name Perl's start_server prints for sig: "TERM", "USR1"
// (the number if the platform has no name for it).
func signalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return strings.TrimPrefix(name, "SIG")
	}
	return strconv.Itoa(int(sig))
}
