package starter

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"hotdeploy/05-full-starter/starter/systemd"
)

// The variables a worker gets from the starter.
const (
	envPort       = "SERVER_STARTER_PORT"
	envGeneration = "SERVER_STARTER_GENERATION"
)

// ownVars are the variables the starter sets itself (or, for LISTEN_PID, the
// exec shim); whatever the starter's own environment or the envdir says
// about them is dropped.
var ownVars = []string{envPort, envGeneration, systemd.EnvNotifySocket,
	systemd.EnvListenFDs, systemd.EnvListenPID, systemd.EnvListenFDNames}

// workerEnvSpec is what one worker's environment is made of.
type workerEnvSpec struct {
	base      []string          // the starter's environment (os.Environ())
	overlay   map[string]string // the envdir, read just before this start
	port      string            // SERVER_STARTER_PORT value (portVar)
	gen       int
	notify    string   // NOTIFY_SOCKET path ("" = not set)
	listenFDs int      // LISTEN_FDS (--listen-fds); 0 = no socket-activation variables
	fdNames   []string // LISTEN_FDNAMES
}

// workerEnv builds a worker's environment: the starter's environment, with
// the envdir variables replacing or adding to it, then the starter's own
// variables. Every other entry is passed as it is, byte for byte (names such
// as "X.Y" or "a-b" too). SERVER_STARTER_PORT is always set (empty without
// sockets). LISTEN_PID is not set here: only the worker knows its pid, so
// the exec shim adds it (package systemd).
func workerEnv(s workerEnvSpec) []string {
	drop := map[string]bool{}
	for _, k := range ownVars {
		drop[k] = true
	}
	for k := range s.overlay {
		drop[k] = true
	}
	env := make([]string, 0, len(s.base)+len(s.overlay)+8)
	for _, kv := range s.base {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			env = append(env, kv)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.overlay)) {
		if !slices.Contains(ownVars, k) {
			env = append(env, k+"="+s.overlay[k])
		}
	}
	env = append(env, envPort+"="+s.port, envGeneration+"="+strconv.Itoa(s.gen))
	if s.notify != "" {
		env = append(env, systemd.EnvNotifySocket+"="+s.notify)
	}
	if s.listenFDs > 0 {
		env = append(env,
			systemd.EnvListenFDs+"="+strconv.Itoa(s.listenFDs),
			systemd.EnvListenFDNames+"="+strings.Join(s.fdNames, ":"))
	}
	return env
}

// ReadEnvDir reads an envdir the way Perl's start_server does: every file
// NAME in dir (names starting with '.' skipped) sets NAME to the file's
// first line, without its "\n" (Perl's chomp). An empty file sets nothing. A file
// that was deleted simply is not there: the next worker gets the starter's
// own value of NAME, or no NAME at all. Names that cannot be variables
// (containing '=' or NUL) and values containing NUL are skipped. It blocks
// on the file reads only.
func ReadEnvDir(dir string) (map[string]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("envdir: %w", err)
	}
	env := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || strings.ContainsAny(name, "=\x00") || e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || len(data) == 0 {
			continue
		}
		line, _, _ := bytes.Cut(data, []byte("\n"))
		if bytes.IndexByte(line, 0) >= 0 {
			continue
		}
		env[name] = string(line)
	}
	return env, nil
}
