// Package bench reads what the stage-05 tests and the Perl comparison need
// to know about a running process from Linux's /proc: the TCP addresses it
// listens on, its resident memory and its CPU time, and whether it is gone.
package bench

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
	"time"
)

// ListenAddrs returns the TCP addresses (host:port) that process pid holds
// a listening socket for, found by matching the socket inodes of
// /proc/PID/fd against /proc/net/tcp and /proc/net/tcp6. It lets a test
// start a server on port 0 and learn the port the kernel chose without
// parsing the server's output.
func ListenAddrs(pid int) ([]string, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err == nil && strings.HasPrefix(target, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	var addrs []string
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" || !inodes[fields[9]] {
				continue
			}
			if a, err := decodeAddr(fields[1]); err == nil {
				addrs = append(addrs, a)
			}
		}
		f.Close()
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

// decodeAddr turns /proc/net/tcp's "0100007F:1F90" into "127.0.0.1:8080".
func decodeAddr(s string) (string, error) {
	hexIP, hexPort, ok := strings.Cut(s, ":")
	if !ok {
		return "", errors.New("no colon")
	}
	raw, err := hex.DecodeString(hexIP)
	if err != nil {
		return "", err
	}
	// The kernel prints the address as 32-bit words in host (little-endian) order.
	ip := make(net.IP, len(raw))
	for i := 0; i+4 <= len(raw); i += 4 {
		ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(ip.String(), strconv.FormatUint(port, 10)), nil
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
	fields, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	// fields[0] is the state (field 3), so utime (14) is fields[11].
	utime, err1 := strconv.Atoi(fields[11])
	stime, err2 := strconv.Atoi(fields[12])
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("pid %d: bad stat", pid)
	}
	return utime + stime, nil
}

// Exited reports whether pid has exited: it is gone, or a zombie waiting to
// be reaped.
func Exited(pid int) bool {
	fields, err := statFields(pid)
	return err != nil || fields[0] == "Z" || fields[0] == "X"
}

// statFields returns the fields of /proc/PID/stat after the command name,
// starting with the state.
func statFields(pid int) ([]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return nil, fmt.Errorf("pid %d: short stat", pid)
	}
	return fields, nil
}
