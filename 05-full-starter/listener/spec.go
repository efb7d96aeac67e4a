package listener

import (
	"fmt"
	"strconv"
	"strings"
)

// Spec is one inherited socket as an environment variable describes it: its
// name and the file descriptor it was passed on.
type Spec struct {
	// Name is the SERVER_STARTER_PORT key: the --port spec as the starter
	// normalizes it ("127.0.0.1:8080", "8080", "[::1]:8080"; a UDP port
	// "u9000" has the key "9000", without the "u") or the --path
	// ("/tmp/app.sock"); or the LISTEN_FDNAMES entry ("unknown" when
	// systemd gave none).
	Name string
	// FD is the descriptor number in this process. Server::Starter may use
	// any number; systemd uses 3, 4, ...
	FD int
}

// maxFD bounds the descriptor numbers accepted from the environment. No real
// process has this many open files; anything above is a malformed variable.
const maxFD = 1 << 20

// ParseServerStarterPort parses SERVER_STARTER_PORT: entries separated by
// ";", each "KEY=FD". The key is everything before the last "=" (a unix
// socket path may itself contain "="), the FD a decimal number. Empty entries
// are skipped, as Perl's Server::Starter does. An empty string yields no
// specs. A descriptor listed twice is an error: two keys cannot own one fd.
// It only parses: the descriptors are not touched (Sockets takes them).
func ParseServerStarterPort(s string) ([]Spec, error) {
	var specs []Spec
	seen := map[int]string{}
	for _, entry := range strings.Split(s, ";") {
		if entry == "" {
			continue
		}
		i := strings.LastIndexByte(entry, '=')
		if i < 0 {
			return nil, fmt.Errorf("SERVER_STARTER_PORT entry %q: want KEY=FD", entry)
		}
		key, num := entry[:i], entry[i+1:]
		if key == "" {
			return nil, fmt.Errorf("SERVER_STARTER_PORT entry %q: empty key", entry)
		}
		fd, err := parseFD(num)
		if err != nil {
			return nil, fmt.Errorf("SERVER_STARTER_PORT entry %q: %w", entry, err)
		}
		if other, dup := seen[fd]; dup {
			return nil, fmt.Errorf("SERVER_STARTER_PORT entry %q: fd %d already belongs to %q", entry, fd, other)
		}
		seen[fd] = key
		specs = append(specs, Spec{Name: key, FD: fd})
	}
	return specs, nil
}

// parseFD parses a descriptor number: decimal digits only (no sign, no
// spaces), at most maxFD.
func parseFD(s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("empty fd")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("fd %q is not a decimal number", s)
		}
	}
	fd, err := strconv.Atoi(s)
	if err != nil || fd > maxFD {
		return 0, fmt.Errorf("fd %q out of range", s)
	}
	return fd, nil
}
