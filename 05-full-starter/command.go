package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// checkCommand reports, before any socket is bound, a worker command that
// cannot be started: not found, not a file, or not executable. dir is
// --dir: a command given as a relative path ("./worker") is looked up there,
// because that is the working directory the worker is started in. A command
// without a slash is looked up in $PATH, as exec does.
//
// Server::Starter finds this out only after forking, and then retries every
// --interval forever; refusing to start says what is wrong at once.
func checkCommand(command []string, dir string) error {
	name := command[0]
	if name == "" {
		return usagef("the worker command is an empty string")
	}
	if !strings.Contains(name, "/") {
		if _, err := exec.LookPath(name); err != nil {
			if errors.Is(err, exec.ErrNotFound) {
				return usagef("worker command %q not found in $PATH", name)
			}
			return usagef("worker command %q: %v", name, err)
		}
		return nil
	}
	path := name
	if !filepath.IsAbs(path) && dir != "" {
		path = filepath.Join(dir, path)
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usagef("worker command %q does not exist", path)
	case err != nil:
		return usagef("worker command %q: %v", path, err)
	case st.IsDir():
		return usagef("worker command %q is a directory", path)
	case st.Mode().Perm()&0o111 == 0:
		return usagef("worker command %q is not executable (mode %v)", path, st.Mode().Perm())
	}
	return nil
}

// checkDir reports a --dir that is not a directory.
func checkDir(dir string) error {
	if dir == "" {
		return nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return usagef("--dir: %v", err)
	}
	if !st.IsDir() {
		return usagef("--dir %q is not a directory", dir)
	}
	return nil
}

// checkStatusFileDir reports a --status-file that cannot be written. The
// status file is replaced atomically (a temporary file beside it, then
// rename), so what must work is creating a file in its directory; this
// probes exactly that with a file of its own, removed at once.
func checkStatusFileDir(statusFile string) error {
	if statusFile == "" {
		return nil
	}
	probe := fmt.Sprintf("%s.probe.%d", statusFile, os.Getpid())
	f, err := os.OpenFile(probe, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("cannot write --status-file %s: %w", statusFile, err)
	}
	f.Close()
	return os.Remove(probe)
}
