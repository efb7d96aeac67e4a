package proc

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A ListenSocket is a TCP socket in LISTEN state, as /proc/net/tcp{,6} shows
// it. The inode names the socket itself: the same inode in two processes'
// fd tables is one socket, shared.
type ListenSocket struct {
	Addr  string // local address, host:port
	Port  int
	Inode uint64
}

// Listening returns every listening TCP socket of this network namespace.
func Listening() ([]ListenSocket, error) {
	var out []ListenSocket
	read := 0
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		read++
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" {
				continue
			}
			addr, port, err := decodeProcAddr(fields[1])
			inode, err2 := strconv.ParseUint(fields[9], 10, 64)
			if err != nil || err2 != nil {
				continue
			}
			out = append(out, ListenSocket{Addr: addr, Port: port, Inode: inode})
		}
		f.Close()
	}
	if read == 0 {
		return nil, errors.New("cannot read /proc/net/tcp")
	}
	return out, nil
}

// decodeProcAddr turns /proc/net/tcp's "0100007F:1F90" into
// "127.0.0.1:8080" and 8080.
func decodeProcAddr(s string) (string, int, error) {
	hexIP, hexPort, ok := strings.Cut(s, ":")
	if !ok {
		return "", 0, fmt.Errorf("address %q: no colon", s)
	}
	raw, err := hex.DecodeString(hexIP)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: %w", s, err)
	}
	// The kernel prints the address as 32-bit words in host (little-endian)
	// order.
	ip := make(net.IP, len(raw))
	for i := 0; i+4 <= len(raw); i += 4 {
		ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: %w", s, err)
	}
	return net.JoinHostPort(ip.String(), strconv.FormatUint(port, 10)), int(port), nil
}

// ListenInode returns the inode of the TCP socket listening on addr's port.
func ListenInode(addr string) (uint64, error) {
	_, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return 0, err
	}
	socks, err := Listening()
	if err != nil {
		return 0, err
	}
	for _, s := range socks {
		if s.Port == port {
			return s.Inode, nil
		}
	}
	return 0, fmt.Errorf("no socket listening on port %d", port)
}

// SocketFDs maps the socket inodes that process pid holds to the fd numbers
// that refer to them (from the links in /proc/PID/fd).
func SocketFDs(pid int) (map[uint64][]int, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[uint64][]int{}
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		rest, ok := strings.CutPrefix(target, "socket:[")
		if !ok {
			continue
		}
		inode, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64)
		if err != nil {
			continue
		}
		fd, _ := strconv.Atoi(e.Name())
		out[inode] = append(out[inode], fd)
	}
	return out, nil
}

// FDsOf returns the fd numbers of process pid that refer to the socket with
// the given inode.
func FDsOf(pid int, inode uint64) ([]int, error) {
	m, err := SocketFDs(pid)
	if err != nil {
		return nil, err
	}
	return m[inode], nil
}
