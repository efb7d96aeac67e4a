package starter

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"hotdeploy/internal/proc"
)

// configEnv carries a JSON Config to the test binary re-executed as
// start_server (see TestMain).
const configEnv = "STARTER_TEST_CONFIG"

// workerBin is testdata/worker, built once by TestMain.
var workerBin string

// TestMain plays two roles (three: started by the starter as its exec
// shim, the test binary execs the worker before TestMain, in package
// systemd's init). Started by a test with STARTER_TEST_CONFIG, it is
// start_server: it runs Run with that Config and exits. Otherwise it builds
// the test worker and runs the tests.
func TestMain(m *testing.M) {
	if c := os.Getenv(configEnv); c != "" {
		os.Exit(runStarterFromEnv(c))
	}
	bin, cleanup := proc.BuildMain("./testdata/worker")
	workerBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

func runStarterFromEnv(c string) int {
	os.Unsetenv(configEnv) // not for the workers
	var cfg Config
	if err := json.Unmarshal([]byte(c), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bad", configEnv, err)
		return 2
	}
	if err := Run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "start_server:", err)
		return 1
	}
	return 0
}

// starterProc is a start_server under test: the test binary running Run.
type starterProc struct {
	*proc.Process
	t *testing.T
}

// startStarter starts start_server with cfg; extra files are inherited by
// it on fds 3, 4, ... (without close-on-exec, as a careless parent would).
// It does not wait for anything.
func startStarter(t *testing.T, cfg Config, extra ...*os.File) *starterProc {
	t.Helper()
	return startStarterEnv(t, cfg, nil, extra...)
}

// startStarterEnv is startStarter with extra environment variables.
func startStarterEnv(t *testing.T, cfg Config, env []string, extra ...*os.File) *starterProc {
	t.Helper()
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe)
	cmd.Env = append(append(os.Environ(), env...), configEnv+"="+string(b))
	cmd.ExtraFiles = extra
	p, err := proc.StartCmd(cmd)
	require.NoError(t, err)
	proc.Track(t, p)
	return &starterProc{p, t}
}

// workerCmd builds a Command running the test worker with args.
func workerCmd(args ...string) []string { return append([]string{workerBin}, args...) }

// boundAddr waits for the starter's line about its next socket and returns
// the bound address.
func (p *starterProc) boundAddr() string {
	p.t.Helper()
	return p.WaitLineT(p.t, `^listening on \w+ (\S+) \(`)[1]
}

// workerUp waits until a worker of generation gen says it is listening and
// returns its pid. It looks at every line so far, not only after the cursor:
// worker output and starter output come through different processes, so
// their relative order is not fixed.
func (p *starterProc) workerUp(gen int) int {
	p.t.Helper()
	re := regexp.MustCompile(fmt.Sprintf(`^listening on \S+ pid=(\d+) gen=%d$`, gen))
	var pid int
	waitFor(p.t, fmt.Sprintf("worker generation %d listening", gen), func() bool {
		for _, l := range p.Lines() {
			if m := re.FindStringSubmatch(l); m != nil {
				pid, _ = strconv.Atoi(m[1])
				return true
			}
		}
		return false
	})
	return pid
}

// waitLine waits for a line matching re (fmt-formatted) and returns its
// submatches.
func (p *starterProc) waitLine(format string, args ...any) []string {
	p.t.Helper()
	return p.WaitLineT(p.t, fmt.Sprintf(format, args...))
}

// stop sends SIGTERM and waits for "exiting" and exit code 0.
func (p *starterProc) stop() {
	p.t.Helper()
	p.SignalT(p.t, 15)
	p.waitLine(`^exiting$`)
	require.Equal(p.t, 0, p.WaitT(p.t))
}

// dump collects the -dump lines of worker pid: env (as a map), cwd, fds.
type dump struct {
	env map[string]string
	cwd string
	fds []string // "N=target"
}

func (p *starterProc) dumpOf(pid int) dump {
	p.t.Helper()
	prefix := fmt.Sprintf("dump pid=%d ", pid)
	var lines []string
	waitFor(p.t, prefix+"fds", func() bool { // the last dump line
		lines = p.Lines()
		for _, l := range lines {
			if strings.HasPrefix(l, prefix+"fds ") {
				return true
			}
		}
		return false
	})
	d := dump{env: map[string]string{}}
	for _, l := range lines {
		rest, ok := strings.CutPrefix(l, prefix)
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(rest, "env "):
			k, v, _ := strings.Cut(strings.TrimPrefix(rest, "env "), "=")
			d.env[k] = v
		case strings.HasPrefix(rest, "cwd "):
			d.cwd = strings.TrimPrefix(rest, "cwd ")
		case strings.HasPrefix(rest, "fds "):
			d.fds = strings.Fields(strings.TrimPrefix(rest, "fds "))
		}
	}
	return d
}

// get does one GET / over a fresh connection and returns the serving pid.
func get(t *testing.T, network, addr string) int {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	pid, err := strconv.Atoi(resp.Header.Get("X-Pid"))
	require.NoError(t, err)
	return pid
}

// waitFor polls cond every 10ms for up to 30s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(proc.ReadyTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func fileContent(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "<none>"
	}
	return string(b)
}
