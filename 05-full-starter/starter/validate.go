package starter

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// FieldError is a problem with one field of Config: Field is the Go name of
// the field ("Ports", "PIDFile", ...), Value the offending value as given ("" when the
// whole field is meant), Err what is wrong.
//
// The package never names command-line flags: a command line maps Field to
// its own flag name (start_server's --port, --pid-file, ...) with Describe.
type FieldError struct {
	Field string
	Value string
	Err   error
}

// fields names each Config field that an error can be about: for people
// (Error) and as start_server's flag (Flag), in one table.
var fields = map[string]struct{ name, flag string }{
	"Ports": {"port", "--port"}, "Paths": {"path", "--path"}, "PathMode": {"path mode", "--path-mode"},
	"Command": {"worker command", "worker command"}, "Dir": {"dir", "--dir"}, "EnvDir": {"envdir", "--envdir"},
	"Interval": {"interval", "--interval"}, "KillOldDelay": {"kill-old delay", "--kill-old-delay"},
	"Backlog": {"backlog", "--backlog"}, "AutoRestartInterval": {"auto-restart interval", "--auto-restart-interval"},
	"PIDFile": {"pid file", "--pid-file"}, "StatusFile": {"status file", "--status-file"},
	"ReadyTimeout": {"ready timeout", "--ready-timeout"}, "KillTimeout": {"kill timeout", "--kill-timeout"},
}

// Error is Describe with a readable name of the field: `port 127.0.0.1:80: bind: ...`.
func (e *FieldError) Error() string {
	if f, ok := fields[e.Field]; ok {
		return e.Describe(f.name)
	}
	return e.Describe(e.Field)
}

// Flag is the start_server option the field comes from ("--port"), or the
// field's name if it has none.
func (e *FieldError) Flag() string {
	if f, ok := fields[e.Field]; ok {
		return f.flag
	}
	return e.Field
}

// Describe is the error with the field called name: "NAME VALUE: ERR", or
// "NAME: ERR" without a value. A command line passes its flag, "--port".
func (e *FieldError) Describe(name string) string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %v", name, e.Err)
	}
	if strings.HasPrefix(name, "--") {
		return fmt.Sprintf("%s=%s: %v", name, e.Value, e.Err)
	}
	return fmt.Sprintf("%s %s: %v", name, e.Value, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// fieldErr makes a *FieldError.
func fieldErr(field, value string, format string, args ...any) error {
	return &FieldError{Field: field, Value: value, Err: fmt.Errorf(format, args...)}
}

// Validate checks cfg without changing anything: everything that can be
// known to be wrong before a socket is bound or a process started — --port
// and --path syntax, two sockets asking for one fd, a --path that is not
// usable as a socket path (too long for the platform, its directory
// missing, something other than a socket already there), durations, --dir
// and --envdir, and a worker command that cannot be run. Errors are
// *FieldError. Run calls it first; a command line calls it too, to tell a
// wrong command line from a failure at run time. It does not block.
func Validate(cfg Config) error {
	_, err := validate(cfg)
	return err
}

// validate is Validate that also returns the socket specs in option order
// (ports, then paths).
func validate(cfg Config) ([]socketSpec, error) {
	if len(cfg.Command) == 0 || cfg.Command[0] == "" {
		return nil, &FieldError{Field: "Command", Err: errors.New("no worker command given")}
	}
	var specs []socketSpec
	fds := map[int]string{}
	for _, p := range cfg.Ports {
		s, err := parsePortSpec(p)
		if err != nil {
			return nil, &FieldError{Field: "Ports", Value: p, Err: err}
		}
		if err := checkFDLimit(p, s.fd); err != nil {
			return nil, err
		}
		if s.fd >= 0 {
			if other, dup := fds[s.fd]; dup {
				return nil, fieldErr("Ports", p, "file descriptor %d is already asked for by %s", s.fd, other)
			}
			fds[s.fd] = p
		}
		specs = append(specs, s)
	}
	for _, p := range cfg.Paths {
		s, err := parsePathSpec(p)
		if err == nil {
			_, err = checkPath(p)
		}
		if err != nil {
			return nil, &FieldError{Field: "Paths", Value: p, Err: err}
		}
		specs = append(specs, s)
	}
	if cfg.PathMode&^os.ModePerm != 0 {
		return nil, fieldErr("PathMode", fmt.Sprintf("%#o", uint32(cfg.PathMode)), "not a permission (0 to 0777)")
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"Interval", cfg.Interval}, {"KillOldDelay", cfg.KillOldDelay},
		{"AutoRestartInterval", cfg.AutoRestartInterval}, {"ReadyTimeout", cfg.ReadyTimeout}} {
		if d.v < 0 {
			return nil, fieldErr(d.field, "", "must not be negative, got %v", d.v)
		}
	}
	if cfg.Backlog < 0 {
		return nil, fieldErr("Backlog", "", "must not be negative, got %d", cfg.Backlog)
	}
	for _, d := range []struct{ field, path string }{{"Dir", cfg.Dir}, {"EnvDir", cfg.EnvDir}} {
		if d.path == "" {
			continue
		}
		if fi, err := os.Stat(d.path); err != nil {
			return nil, &FieldError{Field: d.field, Value: d.path, Err: pathErr(err)}
		} else if !fi.IsDir() {
			return nil, fieldErr(d.field, d.path, "is %s, not a directory", fileType(fi.Mode()))
		}
	}
	if err := checkCommand(cfg.Command[0], cfg.Dir); err != nil {
		return nil, &FieldError{Field: "Command", Value: cfg.Command[0], Err: err}
	}
	return specs, nil
}

// checkCommand reports a worker command that cannot be started: not found
// in $PATH, missing, a directory, or not executable. A relative path
// ("./worker") is looked up in dir, the workers' working directory.
//
// Server::Starter finds this out only after forking, and then retries every
// --interval forever; refusing to start says what is wrong at once.
func checkCommand(name, dir string) error {
	if !strings.Contains(name, "/") {
		if _, err := exec.LookPath(name); err != nil {
			if errors.Is(err, exec.ErrNotFound) {
				return errors.New("not found in $PATH")
			}
			return err
		}
		return nil
	}
	path := name
	if !filepath.IsAbs(path) && dir != "" {
		path = filepath.Join(dir, path)
	}
	in := "" // says where a relative command was looked for
	if path != name {
		in = " (looked for in the workers' directory: " + path + ")"
	}
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("%w%s", pathErr(err), in)
	case st.IsDir():
		return fmt.Errorf("is a directory%s", in)
	case st.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("is not executable (mode %#o)%s", uint32(st.Mode().Perm()), in)
	}
	return nil
}

// maxUnixPath is the longest path a unix socket address can hold on this
// platform: sun_path minus its terminating NUL (107 bytes on Linux, 103 on
// macOS).
var maxUnixPath = len(unix.RawSockaddrUnix{}.Path) - 1

// checkPath says whether a unix stream socket can be bound at path: the
// path fits in a socket address, its directory exists, and whatever is at
// the path already is a socket. stale is true when that socket has no
// server behind it (left by a crashed server): the caller may replace it.
// A socket a server answers on is errInUse. Nothing is changed.
func checkPath(path string) (stale bool, err error) {
	if len(path) > maxUnixPath {
		return false, fmt.Errorf("is %d bytes long; a unix socket path may have at most %d on this system", len(path), maxUnixPath)
	}
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		dir := filepath.Dir(path)
		di, err := os.Stat(dir)
		if err != nil {
			return false, fmt.Errorf("directory %s: %w", dir, pathErr(err))
		}
		if !di.IsDir() {
			return false, fmt.Errorf("%s is %s, not a directory", dir, fileType(di.Mode()))
		}
		return false, nil
	}
	if err != nil {
		return false, pathErr(err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return false, fmt.Errorf("exists and is %s, not a socket; refusing to remove it", fileType(fi.Mode()))
	}
	if socketAnswers(path) {
		return false, errInUse
	}
	return true, nil
}

// fileType names the type of a file for messages: "a regular file", "a
// directory", ...
func fileType(m fs.FileMode) string {
	names := map[fs.FileMode]string{0: "a regular file", fs.ModeDir: "a directory", fs.ModeSymlink: "a symbolic link",
		fs.ModeNamedPipe: "a named pipe (FIFO)", fs.ModeSocket: "a socket", fs.ModeDevice: "a block device",
		fs.ModeDevice | fs.ModeCharDevice: "a character device"}
	if n, ok := names[m.Type()]; ok {
		return n
	}
	return fmt.Sprintf("a file of type %v", m.Type())
}

// pathErr drops the "stat PATH: " of an *fs.PathError, for messages that
// name the path already.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// checkFDLimit refuses a "=FD" at or above the limit of open files
// (RLIMIT_NOFILE, as this process has it; the Go runtime raised its soft
// limit to the hard one, and that is the limit in force when a worker's fds
// are set up between fork and exec): no worker could ever get the socket
// there (dup2 fails with EBADF), so every start would fail. Perl's
// start_server refuses it too ("dup2(2) failed(...)"). fd < 0 means no
// "=FD". A limit that cannot be read is not checked.
func checkFDLimit(spec string, fd int) error {
	var lim unix.Rlimit
	if fd < 0 || unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) != nil {
		return nil
	}
	if uint64(fd) >= uint64(lim.Cur) {
		return fieldErr("Ports", spec, "file descriptor %d is not below the limit of open files (%d)", fd, lim.Cur)
	}
	return nil
}
