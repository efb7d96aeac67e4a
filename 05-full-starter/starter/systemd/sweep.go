package systemd

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
)

// notifyDirName matches the name of a notify directory: start_server-PID-RANDOM.
var notifyDirName = regexp.MustCompile(`^` + notifyDirPrefix + `([0-9]+)-[0-9]+$`)

// sockName matches the sockets a notify directory holds.
var sockName = regexp.MustCompile(`^w-[0-9]+\.sock$`)

// sweepNotifyDirs removes, from tmp, the notify directories of starters
// that no longer run (killed with SIGKILL, say, so they could not clean
// up). Used where notify sockets are files (not on Linux, whose sockets
// are abstract), and written to be safe in a shared /tmp: a directory is
// removed only if its name says start_server-PID-RANDOM, it is a real
// directory (not a symlink) owned by this user with mode 0700, process PID
// does not exist, and it holds nothing but sockets named w-N.sock; those
// are removed one by one, then the empty directory. Anything else is left
// alone. It does not block; errors are ignored (the next starter retries).
func sweepNotifyDirs(tmp string, logf func(string, ...any)) {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		m := notifyDirName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid <= 0 || processExists(pid) {
			continue
		}
		dir := filepath.Join(tmp, e.Name())
		if removeNotifyDir(dir) && logf != nil {
			logf("removed %s, left behind by start_server pid %d", dir, pid)
		}
	}
}

// processExists reports whether a process with this pid exists (perhaps
// another user's: EPERM counts as existing).
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// removeNotifyDir removes dir if it is a notify directory of this user
// holding only w-N.sock sockets (see sweepNotifyDirs), and reports whether
// it did.
func removeNotifyDir(dir string) bool {
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		return false
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Geteuid() {
		return false
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !sockName.MatchString(e.Name()) || e.Type() != os.ModeSocket {
			return false
		}
	}
	for _, e := range entries {
		if os.Remove(filepath.Join(dir, e.Name())) != nil {
			return false
		}
	}
	return os.Remove(dir) == nil
}
