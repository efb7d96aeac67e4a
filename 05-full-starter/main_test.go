package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"hotdeploy/internal/load"
	"hotdeploy/internal/proc"
)

// The binaries under test, built once by TestMain.
var (
	starterBin    string // this package: start_server
	exampleBin    string // ./example: the demo HTTP worker (READY=1, drain)
	perlWorkerBin string // ./internal/perlworker: knows only SERVER_STARTER_PORT
)

func TestMain(m *testing.M) {
	var cleanup func()
	starterBin, cleanup = proc.BuildMain(".")
	dir := filepath.Dir(starterBin)
	var err error
	for _, b := range []struct {
		dst *string
		pkg string
	}{{&exampleBin, "./example"}, {&perlWorkerBin, "./internal/perlworker"}} {
		if *b.dst, err = proc.Build(b.pkg, dir); err != nil {
			cleanup()
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// cliResult is what a start_server run that is expected to end by itself
// printed, separately on stdout and stderr, and its exit code.
type cliResult struct {
	code           int
	stdout, stderr string
}

// stderrLines returns the non-empty lines of stderr.
func (r cliResult) stderrLines() []string {
	var lines []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// runCLI runs start_server with args (and extra environment variables) and
// waits for it to exit by itself, at most proc.ExitTimeout: a command that
// must fail has to fail at once, not loop. It fails t if the program or
// anything it started is still running then.
func runCLI(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), proc.ExitTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, starterBin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("start_server %q still running after %v; output:\n%s%s", args, proc.ExitTimeout, stdout.String(), stderr.String())
	}
	if syscall.Kill(-cmd.Process.Pid, 0) == nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Errorf("start_server %q left processes running", args)
	}
	if ee := (*exec.ExitError)(nil); err != nil && !errors.As(err, &ee) {
		t.Fatalf("start_server %q: %v", args, err)
	}
	return cliResult{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

func TestHelpAndVersion(t *testing.T) {
	r := runCLI(t, nil, "--help")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stderr)
	for _, o := range optionTable {
		assert.Contains(t, r.stdout, "--"+o.name, "--help documents every option")
	}
	// Getopt::Long, as Perl's start_server uses it: any case, unambiguous
	// abbreviations, one dash or two.
	for _, arg := range []string{"--version", "--VERSION", "--vers", "-Ver"} {
		r = runCLI(t, nil, arg)
		require.Equal(t, 0, r.code, "%s: %s", arg, r.stderr)
		assert.Regexp(t, `^start_server \S+ .*Server::Starter 0\.35.*\n$`, r.stdout, arg)
	}
}

// TestBadInput: every mistake gets one clear line on stderr naming the
// problem and a non-zero exit, at once (runCLI fails after 30 s otherwise),
// and nothing of the user's is deleted.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-executable")
	require.NoError(t, os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644))
	regular := filepath.Join(dir, "data.txt")
	const content = "precious data\n"
	require.NoError(t, os.WriteFile(regular, []byte(content), 0o644))
	missingDir := filepath.Join(dir, "no-such-dir", "sub")

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()

	long := filepath.Join(dir, strings.Repeat("s", 120)+".sock")
	stale := filepath.Join(dir, "stale.sock") // a socket nobody answers on: replaced, so no error
	live := filepath.Join(dir, "live.sock")
	liveLn, err := net.Listen("unix", live)
	require.NoError(t, err)
	defer liveLn.Close()

	// A port the kernel chose, free again: the test binds it twice.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	freePort := l.Addr().String()
	l.Close()

	tests := []struct {
		name string
		args []string
		want string // regexp the one error line must match
		// code is the exit code: 2 for a wrong command line, found before
		// anything is bound; 1 for a failure at run time (a bind error,
		// a held pid file). Either way stderr is that one line: the
		// "starting now..." banner comes only after the sockets are bound.
		code int
	}{
		{"unknown option", []string{"--prot=80", "--", "sleep", "30"}, `unknown option --prot=80`, 2},
		{"ambiguous option", []string{"--s=80", "--", "sleep", "30"}, `option --s is ambiguous \(--signal-on-hup, --signal-on-term, --status-file, --stop\)$`, 2},
		{"malformed --port", []string{"--port=http", "--", "sleep", "30"}, `--port=http: port "http" is not a number`, 2},
		{"port out of range", []string{"--port=127.0.0.1:70000", "--", "sleep", "30"}, `--port=127.0.0.1:70000: port "70000" is not a number from 0 to 65535`, 2},
		{"two sockets on one fd", []string{"--port=127.0.0.1:0=5", "--port=[::1]:0=5", "--", "sleep", "30"},
			`--port=\[::1\]:0=5: file descriptor 5 is already asked for by 127.0.0.1:0=5$`, 2},
		{"port in use", []string{"--port=" + busy.Addr().String(), "--", "sleep", "30"},
			`--port=` + regexp.QuoteMeta(busy.Addr().String()) + `: bind: address already in use$`, 1},
		{"unknown signal", []string{"--signal-on-hup=SIGFOO", "--", "sleep", "30"}, `--signal-on-hup: unknown signal "SIGFOO"`, 2},
		{"no command", []string{"--port=127.0.0.1:0"}, `no worker command given`, 2},
		{"nothing after --", []string{"--port=127.0.0.1:0", "--"}, `no worker command given`, 2},
		{"command not in PATH", []string{"--", "no-such-command-hotdeploy"}, `worker command no-such-command-hotdeploy: not found in \$PATH$`, 2},
		{"command file missing", []string{"--", filepath.Join(dir, "nope")}, `worker command .*/nope: no such file or directory$`, 2},
		{"relative command missing in --dir", []string{"--dir", dir, "--", "./nope"},
			`worker command ./nope: no such file or directory \(looked for in the workers' directory: .*/nope\)$`, 2},
		{"command not executable", []string{"--", notExec}, `worker command .*/not-executable: is not executable \(mode 0644\)$`, 2},
		{"bad --dir", []string{"--dir", regular, "--", "sleep", "30"}, `--dir=.*data.txt: is a regular file, not a directory$`, 2},
		{"missing --dir", []string{"--dir", missingDir, "--", "sleep", "30"}, `--dir=.*/sub: no such file or directory$`, 2},
		{"missing --envdir", []string{"--envdir", missingDir, "--", "sleep", "30"}, `--envdir=.*/sub: no such file or directory$`, 2},
		{"negative --interval", []string{"--interval=-1", "--", "sleep", "30"}, `option --interval: "-1" is negative$`, 2},
		{"unwritable pid file", []string{"--pid-file", filepath.Join(missingDir, "x.pid"), "--", "sleep", "30"},
			`--pid-file=.*x\.pid: open .*x\.pid: no such file or directory$`, 1},
		{"unwritable status file", []string{"--status-file", filepath.Join(missingDir, "x.status"), "--", "sleep", "30"},
			`cannot write --status-file .*x\.status.*no such file or directory`, 1},
		{"regular file at --path", []string{"--path", regular, "--", "sleep", "30"},
			`--path=` + regexp.QuoteMeta(regular) + `: exists and is a regular file, not a socket; refusing to remove it$`, 2},
		{"directory at --path", []string{"--path", dir, "--", "sleep", "30"}, `exists and is a directory, not a socket`, 2},
		{"--path too long", []string{"--path", long, "--", "sleep", "30"},
			`--path=.*\.sock: is \d+ bytes long; a unix socket path may have at most 107 on this system$`, 2},
		{"--path in a missing directory", []string{"--path", filepath.Join(missingDir, "a.sock"), "--", "sleep", "30"},
			`--path=.*/sub/a\.sock: directory .*/sub: no such file or directory$`, 2},
		{"--path with ;", []string{"--path", filepath.Join(dir, "a;b.sock"), "--", "sleep", "30"}, `';' and '=' cannot appear in SERVER_STARTER_PORT`, 2},
		{"--path empty", []string{"--path=", "--", "sleep", "30"}, `--path: empty path$`, 2},
		{"--path a server answers on", []string{"--path", live, "--", "sleep", "30"},
			`--path=` + regexp.QuoteMeta(live) + `: a server is already listening on it$`, 2},
		{"--path-mode not octal", []string{"--path-mode=rw", "--path", stale, "--", "sleep", "30"}, `option --path-mode: "rw" is not a permission`, 2},
		{"--restart without files", []string{"--restart"}, `--restart needs --pid-file and --status-file`, 2},
		{"--restart, nothing running", []string{"--restart", "--pid-file", filepath.Join(dir, "none.pid"), "--status-file", filepath.Join(dir, "none.status")},
			`none\.pid`, 1},
		{"--stop, nothing running", []string{"--stop", "--pid-file", filepath.Join(dir, "none.pid")}, `none\.pid`, 1},
		{"--daemonize without --log-file", []string{"--daemonize", "--", "sleep", "30"}, `--daemonize requires --log-file`, 2},
		{"the same --port twice", []string{"--port=" + freePort, "--port=" + freePort, "--", "sleep", "30"},
			`--port=` + regexp.QuoteMeta(freePort) + `: bind: address already in use$`, 1},
		{"bad log file", []string{"--log-file", filepath.Join(missingDir, "log"), "--", "sleep", "30"}, `cannot open --log-file`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, nil, tt.args...)
			assert.Equal(t, tt.code, r.code, "exit code; stderr: %s", r.stderr)
			lines := r.stderrLines()
			require.Len(t, lines, 1, "one error line; stderr:\n%s", r.stderr)
			assert.Regexp(t, `^start_server: .*`+tt.want, lines[0])
			assert.NotContains(t, lines[0], "(d---------)", "file types are spelled out")
			assert.Empty(t, r.stdout)
		})
	}

	got, err := os.ReadFile(regular)
	require.NoError(t, err, "the regular file given as --path must still exist")
	assert.Equal(t, content, string(got))
}

// running is a start_server started by startStarter.
type running struct {
	p                   *proc.Process
	pidFile, statusFile string
	addr                string // the first TCP address it listens on
}

// startStarter starts start_server with args and a pid file and status file
// in a temporary directory, and waits until generation 1 is running and, if
// args has a --port, until it listens (r.addr).
func startStarter(t *testing.T, env []string, args ...string) *running {
	t.Helper()
	dir := t.TempDir()
	r := &running{pidFile: filepath.Join(dir, "start_server.pid"), statusFile: filepath.Join(dir, "start_server.status")}
	all := append([]string{"--pid-file", r.pidFile, "--status-file", r.statusFile}, args...)
	cmd := exec.Command(starterBin, all...)
	cmd.Env = append(os.Environ(), env...)
	p, err := proc.StartCmd(cmd)
	require.NoError(t, err)
	proc.Track(t, p)
	r.p = p
	r.waitStatus(t, func(s map[int]int) bool { return len(s) == 1 && s[1] != 0 })
	for _, a := range args {
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "--port") {
			r.addr, err = proc.WaitListenAddr(p.PID(), proc.ReadyTimeout)
			require.NoError(t, err)
			break
		}
	}
	return r
}

// readStatus parses the status file: generation → PID.
func readStatus(path string) (map[int]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := map[int]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		g, p, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("status line %q", line)
		}
		gen, err1 := strconv.Atoi(g)
		pid, err2 := strconv.Atoi(p)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("status line %q", line)
		}
		s[gen] = pid
	}
	return s, nil
}

// waitStatus polls the status file until cond holds (30 s at most) and
// returns it.
func (r *running) waitStatus(t *testing.T, cond func(map[int]int) bool) map[int]int {
	t.Helper()
	deadline := time.Now().Add(proc.ReadyTimeout)
	for {
		s, err := readStatus(r.statusFile)
		if err == nil && cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("status file %s: %v (err %v) after %v; output:\n%s", r.statusFile, s, err, proc.ReadyTimeout, r.p.Output())
		}
		select {
		case <-r.p.Done():
			t.Fatalf("start_server exited while waiting for the status file; output:\n%s", r.p.Output())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func gens(s map[int]int) []int {
	var g []int
	for k := range s {
		g = append(g, k)
	}
	sort.Ints(g)
	return g
}

// TestRestartAndStop drives a running start_server with the --restart and
// --stop control commands, as a deploy script would.
func TestRestartAndStop(t *testing.T) {
	r := startStarter(t, nil, "--port=127.0.0.1:0", "--", exampleBin)
	first, err := readStatus(r.statusFile)
	require.NoError(t, err)
	pidData, err := os.ReadFile(r.pidFile)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("%d\n", r.p.PID()), string(pidData), "pid file")

	res := runCLI(t, nil, "--restart", "--pid-file", r.pidFile, "--status-file", r.statusFile)
	require.Equal(t, 0, res.code, "--restart: %s", res.stderr)
	// --restart returns only when the new generation is the only one left.
	s, err := readStatus(r.statusFile)
	require.NoError(t, err)
	assert.Equal(t, []int{2}, gens(s), "status file right after --restart")
	assert.NotEqual(t, first[1], s[2], "a new worker")
	assert.True(t, proc.Exited(first[1]), "the old worker has exited")

	res = runCLI(t, nil, "--stop", "--pid-file", r.pidFile)
	require.Equal(t, 0, res.code, "--stop: %s", res.stderr)
	// --stop returns when start_server has shut down: it waits for the
	// pid file's lock, which start_server drops as its last act, after its
	// workers have exited and its files are removed. (Its process may take
	// a moment longer to end: a check of that at once would be a race.)
	assert.True(t, proc.Exited(s[2]), "the worker has exited")
	assert.NoFileExists(t, r.pidFile)
	assert.NoFileExists(t, r.statusFile)
	assert.Equal(t, 0, r.p.WaitT(t))
}

// TestSecondInstanceOnHeldPidFile: a second start_server given the pid file
// of a running one refuses to start and leaves the file as it is.
func TestSecondInstanceOnHeldPidFile(t *testing.T) {
	r := startStarter(t, nil, "--", "sleep", "60")
	res := runCLI(t, nil, "--pid-file", r.pidFile, "--", "sleep", "60")
	assert.NotEqual(t, 0, res.code)
	lines := res.stderrLines()
	require.NotEmpty(t, lines)
	assert.Regexp(t, `^start_server: .*`+regexp.QuoteMeta(r.pidFile), lines[len(lines)-1])
	data, err := os.ReadFile(r.pidFile)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("%d\n", r.p.PID()), string(data), "the running instance's pid file is untouched")
	select {
	case <-r.p.Done():
		t.Fatal("the first instance exited")
	default:
	}
}

// TestPerlProtocolWorkerUnderLoad is the interop test: our start_server runs
// a worker that knows only Server::Starter's protocol (SERVER_STARTER_PORT;
// no READY=1, so --interval decides when it is up), under load from 50
// clients, across two HUP restarts, with keep-alive on and off: no request
// may fail.
func TestPerlProtocolWorkerUnderLoad(t *testing.T) {
	for _, keepAlive := range []bool{false, true} {
		t.Run(fmt.Sprintf("keepalive=%v", keepAlive), func(t *testing.T) {
			r := startStarter(t, nil, "--port=127.0.0.1:0", "--interval=0.5", "--", perlWorkerBin)
			require.NotEmpty(t, r.addr)
			run, err := load.Start(load.Config{Addr: r.addr, Clients: 50, MaxRequests: 500000,
				MaxDuration: 60 * time.Second, KeepAlive: keepAlive, Timeout: 10 * time.Second})
			require.NoError(t, err)
			defer run.Stop()
			require.True(t, run.WaitFor(func(rep load.Report) bool { return rep.OK >= 200 }, proc.ReadyTimeout), "first requests")
			pids := []int{}
			for gen := 2; gen <= 3; gen++ {
				r.p.SignalT(t, syscall.SIGHUP)
				s := r.waitStatus(t, func(s map[int]int) bool { return s[gen] != 0 })
				newPID := s[gen]
				pids = append(pids, newPID)
				require.True(t, run.WaitFor(func(rep load.Report) bool { return rep.ByPID[newPID] >= 200 }, proc.ReadyTimeout),
					"generation %d (pid %d) serves", gen, newPID)
			}
			rep := run.Stop()
			t.Logf("%v", rep)
			assert.Equal(t, 0, rep.Failed(), "failed requests: %v", rep.Errors)
			assert.GreaterOrEqual(t, len(rep.ByPID), 3, "three workers served")
			r.waitStatus(t, func(s map[int]int) bool { return len(s) == 1 && s[3] == pids[1] })
		})
	}
}

// TestLogFile: --log-file appends the supervisor's and the workers' output
// to a file; "|cmd" pipes it into a command.
func TestLogFile(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "start_server.log")
	require.NoError(t, os.WriteFile(logPath, []byte("previous line\n"), 0o644))
	piped := filepath.Join(dir, "piped.log")
	for _, spec := range []string{logPath, "| cat >> " + piped} {
		t.Run(spec, func(t *testing.T) {
			r := startStarter(t, nil, "--log-file", spec, "--port=127.0.0.1:0", "--", exampleBin)
			file := logPath
			if strings.HasPrefix(spec, "|") {
				file = piped
			}
			workerPID := mustStatus(t, r.statusFile)[1]
			waitFileContains(t, file, fmt.Sprintf("pid=%d", workerPID))
			assert.Empty(t, r.p.Output(), "nothing on the terminal")
			_, err := r.p.Stop(proc.ExitTimeout)
			require.NoError(t, err)
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			if file == logPath {
				assert.True(t, strings.HasPrefix(string(data), "previous line\n"), "appended, not truncated")
			}
		})
	}
}

func mustStatus(t *testing.T, path string) map[int]int {
	t.Helper()
	s, err := readStatus(path)
	require.NoError(t, err)
	return s
}

// waitFileContains polls file until it contains s, 30 s at most.
func waitFileContains(t *testing.T, file, s string) {
	t.Helper()
	deadline := time.Now().Add(proc.ReadyTimeout)
	for {
		data, _ := os.ReadFile(file)
		if strings.Contains(string(data), s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not contain %q after %v:\n%s", file, s, proc.ReadyTimeout, data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPathMode: --path sockets are 0600 unless --path-mode says otherwise
// (Perl's are 0777: a proxy running as another user must get a way in).
func TestPathMode(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want os.FileMode
	}{{"default", nil, 0o600}, {"0660", []string{"--path-mode=0660"}, 0o660}, {"abbreviated 777", []string{"--path-m", "777"}, 0o777}} {
		t.Run(tt.name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "app.sock")
			args := append([]string{"--path=" + sock}, tt.args...)
			r := startStarter(t, nil, append(args, "--", "sleep", "60")...)
			fi, err := os.Lstat(sock)
			require.NoError(t, err)
			assert.Equal(t, os.ModeSocket|tt.want, fi.Mode()&(os.ModeType|os.ModePerm))
			_, err = r.p.Stop(proc.ExitTimeout)
			require.NoError(t, err)
		})
	}
}
