package starter

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// signalNames maps the names start_server accepts (without the SIG prefix)
// to signals. Only signals that exist on every Unix Go supports are listed.
var signalNames = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT,
	"ILL": syscall.SIGILL, "TRAP": syscall.SIGTRAP, "ABRT": syscall.SIGABRT,
	"BUS": syscall.SIGBUS, "FPE": syscall.SIGFPE, "KILL": syscall.SIGKILL,
	"USR1": syscall.SIGUSR1, "SEGV": syscall.SIGSEGV, "USR2": syscall.SIGUSR2,
	"PIPE": syscall.SIGPIPE, "ALRM": syscall.SIGALRM, "TERM": syscall.SIGTERM,
	"CHLD": syscall.SIGCHLD, "CONT": syscall.SIGCONT, "STOP": syscall.SIGSTOP,
	"TSTP": syscall.SIGTSTP, "TTIN": syscall.SIGTTIN, "TTOU": syscall.SIGTTOU,
	"URG": syscall.SIGURG, "XCPU": syscall.SIGXCPU, "XFSZ": syscall.SIGXFSZ,
	"VTALRM": syscall.SIGVTALRM, "PROF": syscall.SIGPROF, "WINCH": syscall.SIGWINCH,
	"IO": syscall.SIGIO, "SYS": syscall.SIGSYS,
}

// ParseSignal turns a signal name as Server::Starter accepts it into a
// signal: "TERM", "SIGTERM", "term" and "sigterm" all mean SIGTERM. A
// decimal number is accepted too ("15"). It does not block.
func ParseSignal(name string) (syscall.Signal, error) {
	s := strings.ToUpper(strings.TrimSpace(name))
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal number %q", name)
		}
		return syscall.Signal(n), nil
	}
	s = strings.TrimPrefix(s, "SIG")
	if sig, ok := signalNames[s]; ok {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q (use a name such as TERM, SIGUSR1 or hup)", name)
}

// signalName is the name Perl's start_server prints for sig: "TERM", "USR1".
func signalName(sig syscall.Signal) string {
	for name, s := range signalNames {
		if s == sig {
			return name
		}
	}
	return strconv.Itoa(int(sig))
}
