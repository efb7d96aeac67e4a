package starter

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// pidFile is a held --pid-file: it contains "PID\n" and this process holds
// an exclusive flock on it until release. A second start_server with the same
// pid file fails instead of overwriting it; --stop and --restart check the
// lock to tell a running server from a stale file.
type pidFile struct {
	path string
	f    *os.File
}

// pidLockAttempts bounds how often acquirePIDFile reopens a pid file that
// was replaced or removed while it was locking it.
const pidLockAttempts = 10

// beforePIDLock, if not nil, runs between opening the pid file and locking
// it: a seam for tests to recreate the race lockPIDPath guards against.
var beforePIDLock func()

// acquirePIDFile opens (creating if needed) and locks path, then writes
// "PID\n". It never blocks: a pid file locked by a running start_server is
// an error naming that server's pid. The file is not truncated before it is
// locked, so a failed attempt leaves the running server's file intact.
//
// A pid file that cannot be written (a full disk, a file size limit) is an
// error: --stop and --restart could not find the server. The file is then
// removed — this process holds its lock, so it is nobody else's, and what
// is in it is not a pid.
// It returns nil for an empty path; its errors are *FieldError.
func acquirePIDFile(path string) (*pidFile, error) {
	if path == "" {
		return nil, nil
	}
	f, err := lockPIDPath(path)
	if err != nil {
		return nil, &FieldError{Field: "PIDFile", Value: path, Err: err}
	}
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		(&pidFile{path: path, f: f}).release()
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the caller names the file
		}
		return nil, &FieldError{Field: "PIDFile", Value: path, Err: fmt.Errorf("write: %w", err)}
	}
	return &pidFile{path: path, f: f}, nil
}

// lockPIDPath opens path and takes the exclusive lock on the file that is
// at path once the lock is held. A lock alone is not enough: a server that
// exits removes its pid file and then drops the lock (release), so an open
// from just before the removal would get the lock on the removed file while
// a third start_server creates and locks a new one at path — two servers
// with "the" pid file. So after locking it compares the open file with what
// path names now (device and inode) and starts over if they differ, at most
// pidLockAttempts times. It never blocks.
func lockPIDPath(path string) (*os.File, error) {
	for range pidLockAttempts {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		if beforePIDLock != nil {
			beforePIDLock()
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			other, _ := readPID(path)
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, fmt.Errorf("is locked: another start_server (pid %d) is running", other)
			}
			return nil, fmt.Errorf("flock: %w", err)
		}
		same, err := isFileAt(f, path)
		if err != nil {
			f.Close()
			return nil, err
		}
		if same {
			return f, nil
		}
		f.Close() // removed or replaced meanwhile: that lock guards nothing
	}
	return nil, fmt.Errorf("replaced or removed %d times while locking it; is another program removing it?", pidLockAttempts)
}

// isFileAt reports whether the open file f is the file path names now (the
// same device and inode). A path that no longer exists is not f.
func isFileAt(f *os.File, path string) (bool, error) {
	open, err := f.Stat()
	if err != nil {
		return false, err
	}
	named, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(open, named), nil
}

// release removes the pid file, then closes it (which drops the lock), in
// that order: whoever waits for the lock finds the file gone.
func (p *pidFile) release() {
	if p == nil {
		return
	}
	os.Remove(p.path)
	p.f.Close()
}

// readPID reads the pid from a pid file's first line.
func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s: no pid in %q", path, line)
	}
	return pid, nil
}

// statusEntry is one line of the status file.
type statusEntry struct{ gen, pid int }

// writeStatusFile replaces path with one "GEN:PID\n" line per entry, sorted
// by generation, atomically (see writeAtomic), so a reader never sees a
// partial file.
func writeStatusFile(path string, entries []statusEntry) error {
	sort.Slice(entries, func(i, j int) bool { return entries[i].gen < entries[j].gen })
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "%d:%d\n", e.gen, e.pid)
	}
	return writeAtomic(path, b.String())
}

// writeAtomic replaces path with data: it writes a new temp file in path's
// directory and renames it over path. The temp file is created by
// os.CreateTemp (O_CREAT|O_EXCL, a random name): a file or symlink someone
// planted at a predictable name (Perl's PATH.PID) is never opened, so the
// write cannot be redirected to another file. The result has mode 0644.
func writeAtomic(path, data string) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.WriteString(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readStatusFile parses a status file into its generations and pids.
func readStatusFile(path string) ([]statusEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []statusEntry
	for _, line := range strings.Split(string(b), "\n") {
		g, p, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		gen, err1 := strconv.Atoi(g)
		pid, err2 := strconv.Atoi(p)
		if err1 == nil && err2 == nil {
			out = append(out, statusEntry{gen, pid})
		}
	}
	return out, nil
}

// failedFile is the failure marker next to a status file: STATUSFILE.failed. Beyond Perl: when
// a new worker fails to start, the starter writes "GEN REASON\n" there, and
// removes the file once a worker is running again and at exit. Restart reads
// it to fail fast instead of waiting forever like Perl's --restart.
func failedFile(statusFile string) string {
	return statusFile + ".failed"
}

// readFailedFile returns the generation and reason of the last failed start,
// or ok=false if there is no marker.
func readFailedFile(statusFile string) (gen int, reason string, ok bool) {
	b, err := os.ReadFile(failedFile(statusFile))
	if err != nil {
		return 0, "", false
	}
	g, r, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	gen, err = strconv.Atoi(g)
	if err != nil {
		return 0, "", false
	}
	return gen, r, true
}
