package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"hotdeploy/05-full-starter/listener"
	"hotdeploy/05-full-starter/starter"
)

// The demo: start_server without arguments supervises the example worker,
// rebuilt from source for every generation, so that editing
// 05-full-starter/example and sending SIGHUP deploys the edited code.
const (
	demoAddr = "127.0.0.1:8080"
	// demoAddrEnv overrides demoAddr; the tests set it to 127.0.0.1:0.
	demoAddrEnv = "START_SERVER_DEMO_ADDR"
	// demoWorkerArg, as the first argument, makes this program the demo's
	// worker: build the example, then exec it.
	demoWorkerArg = "__start_server_demo_worker"
	// demoPackage is what the demo worker builds, relative to the module root.
	demoPackage = "./05-full-starter/example"
	// demoReadyTimeout bounds a demo worker's build plus start-up: a new
	// generation counts as started only when the freshly built example
	// sends READY=1, so the old one serves for as long as the build takes.
	demoReadyTimeout = 3 * time.Minute
)

// runDemo runs the supervisor on demoAddr with the demo worker. It blocks
// until the supervisor exits (SIGTERM or SIGINT).
func runDemo(getenv func(string) string, stdout, stderr io.Writer) int {
	addr := cmp.Or(getenv(demoAddrEnv), demoAddr)
	root, err := moduleRoot()
	if err != nil {
		return fail(stderr, err)
	}
	self, err := os.Executable()
	if err != nil {
		return fail(stderr, fmt.Errorf("demo: find own executable: %w", err))
	}
	buildDir, err := os.MkdirTemp("", "start_server-demo-")
	if err != nil {
		return fail(stderr, fmt.Errorf("demo: %w", err))
	}
	defer os.RemoveAll(buildDir)

	pid := os.Getpid()
	shown, loadAddr := addr, addr
	if strings.HasSuffix(addr, ":0") {
		shown = "ADDR (see the worker's 'listening on' line)"
		loadAddr = "ADDR"
	}
	fmt.Fprintf(stdout, `start_server demo: supervisor pid=%d, socket %s
worker: go build %s (in %s), then run it; rebuilt on every HUP
try, in another terminal:
  curl -si http://%s/ | grep X-
  kill -HUP %d
      (edit %s first: the new generation runs your code)
  scripts/loadtest.sh -addr %s -pid %d
      (this server under load while the load generator HUPs it 3 times)
  grep VmRSS /proc/%d/status; ls -l /proc/%d/fd
  kill %d
      (or Ctrl-C: stop)
`, pid, addr, demoPackage, root, shown, pid, demoPackage, loadAddr, pid, pid, pid, pid)

	cfg := starter.Config{
		Ports:        []string{addr},
		Command:      []string{self, demoWorkerArg, root, buildDir},
		EnvDir:       getenv(envEnvDir),
		ReadyTimeout: demoReadyTimeout,
	}
	if err := starter.Run(context.Background(), cfg); err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

// moduleRoot finds the directory of the hotdeploy module: from the source
// directory this file was compiled from (go run and go build in the
// repository), else from the working directory.
func moduleRoot() (string, error) {
	var dirs []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dirs = append(dirs, filepath.Dir(file))
	}
	for _, dir := range append(dirs, ".") {
		out, err := exec.Command("go", "-C", dir, "env", "GOMOD").Output()
		gomod := strings.TrimSpace(string(out))
		if err != nil || gomod == "" || gomod == os.DevNull {
			continue
		}
		root := filepath.Dir(gomod)
		if _, err := os.Stat(filepath.Join(root, demoPackage)); err == nil {
			return root, nil
		}
	}
	return "", errors.New("demo: cannot find the workshop's source (no go.mod with " + demoPackage +
		"): run it from inside the repository, e.g. go run ./05-full-starter")
}

// demoWorker is the demo's worker command: args are the module root and the
// build directory. It builds the example into the build directory (one
// binary per generation), then execs it — same PID, so the supervisor's
// bookkeeping still holds, and the inherited sockets stay open
// across the exec. It returns (an exit code) only on failure.
//
// The inherited sockets are marked close-on-exec while "go build" runs so
// that the compiler does not hold them, and cleared again just before the
// exec. SIGTERM or SIGINT during the build kills the build and exits.
func demoWorker(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "demo worker: want MODULE_ROOT BUILD_DIR")
		return exitUsage
	}
	root, buildDir := args[0], args[1]
	gen := os.Getenv("SERVER_STARTER_GENERATION")
	bin := filepath.Join(buildDir, "example-gen"+gen)

	// Our start_server names every socket it passes in SERVER_STARTER_PORT.
	socks, err := listener.ParseServerStarterPort(os.Getenv("SERVER_STARTER_PORT"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo worker: %v\n", err)
		return exitError
	}
	for _, s := range socks {
		unix.CloseOnExec(s.FD)
	}
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGTERM, unix.SIGINT)
	fmt.Fprintf(os.Stderr, "demo worker pid=%d generation %s: go build %s\n", os.Getpid(), gen, demoPackage)
	began := time.Now()
	buildArgs := []string{"build", "-o", bin}
	if !strings.Contains(os.Getenv("GOFLAGS"), "-ldflags") {
		// Name each generation's build after it (v1, v2, ...), so that
		// X-Version and a load generator's "served by version" show the
		// deploys; -ldflags given through GOFLAGS (the envdir) wins.
		buildArgs = append(buildArgs, "-ldflags=-X main.version=v"+gen)
	}
	build := exec.CommandContext(ctx, "go", append(buildArgs, demoPackage)...)
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	// Its own process group, so that cancelling kills the compiler and
	// linker too, not only the go command.
	build.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	build.Cancel = func() error { return unix.Kill(-build.Process.Pid, unix.SIGKILL) }
	err = build.Run()
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo worker pid=%d: build failed: %v\n", os.Getpid(), err)
		return exitError
	}
	fmt.Fprintf(os.Stderr, "demo worker pid=%d: built in %v, exec %s\n", os.Getpid(), time.Since(began).Round(time.Millisecond), bin)
	for _, s := range socks { // clear close-on-exec: the example gets them
		if _, err := unix.FcntlInt(uintptr(s.FD), unix.F_SETFD, 0); err != nil {
			fmt.Fprintf(os.Stderr, "demo worker: fd %d: fcntl F_SETFD: %v\n", s.FD, err)
			return exitError
		}
	}
	err = unix.Exec(bin, []string{bin}, os.Environ())
	fmt.Fprintf(os.Stderr, "demo worker: exec %s: %v\n", bin, err)
	return exitError
}
