package proc

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ListenInode returns the inode of the TCP socket listening on addr
// (host:port), read from /proc/net/tcp and /proc/net/tcp6. The inode names
// the socket itself: the same inode in two processes' fd tables is one
// socket, shared.
func ListenInode(addr string) (uint64, error) {
	_, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return 0, err
	}
	want := fmt.Sprintf(":%04X", port)
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" || !strings.HasSuffix(fields[1], want) {
				continue
			}
			f.Close()
			return strconv.ParseUint(fields[9], 10, 64)
		}
		f.Close()
	}
	return 0, fmt.Errorf("no socket listening on port %d", port)
}

// FDsOf returns the fd numbers of process pid that refer to the socket with
// the given inode (from the links in /proc/PID/fd).
func FDsOf(pid int, inode uint64) ([]int, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	want := fmt.Sprintf("socket:[%d]", inode)
	var fds []int
	for _, e := range entries {
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && target == want {
			fd, _ := strconv.Atoi(e.Name())
			fds = append(fds, fd)
		}
	}
	return fds, nil
}
