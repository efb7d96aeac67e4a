package proc

import (
	"flag"
	"os"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// Generous deadlines for things that must happen; a slow CI machine under
// -race should never hit them.
const (
	ReadyTimeout = 30 * time.Second
	ExitTimeout  = 30 * time.Second
)

// BuildMain builds the main package in dir once for a test binary's whole
// run; call it from TestMain. It returns the binary's path and a function
// that removes it. It exits the test binary if the build fails.
func BuildMain(dir string, extra ...string) (bin string, cleanup func()) {
	tmp, err := os.MkdirTemp("", "hotdeploy-bin-")
	if err != nil {
		panic(err)
	}
	bin, err = Build(dir, tmp, extra...)
	if err != nil {
		os.RemoveAll(tmp)
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(2)
	}
	return bin, func() { os.RemoveAll(tmp) }
}

// RunExercise is the TestMain of an exercise template (0N-*/exercise): it
// builds the template in the current directory or, with the test flag
// -answer, the stage's own main.go in "..", stores the binary's path in
// *bin, runs the tests, removes the binary and exits with their result.
func RunExercise(m *testing.M, bin *string) {
	answer := flag.Bool("answer", false, "test the stage's main.go (the answer) instead of exercise/main.go")
	flag.Parse()
	dir := "."
	if *answer {
		dir = ".."
	}
	var cleanup func()
	*bin, cleanup = BuildMain(dir)
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// StartT starts bin with args for test t. When the test ends, the process
// gets SIGTERM (then SIGKILL), and the test fails if any process of its group
// is still alive after the leader exited — a worker left behind is a bug.
// The output is logged when the test failed.
func StartT(t testing.TB, bin string, args ...string) *Process {
	t.Helper()
	p, err := Start(bin, args...)
	if err != nil {
		t.Fatal(err)
	}
	Track(t, p)
	return p
}

// Track registers the end-of-test checks of StartT for a process started
// some other way (StartCmd).
func Track(t testing.TB, p *Process) {
	t.Cleanup(func() {
		select {
		case <-p.Done():
		default:
			_, _ = p.Stop(10 * time.Second)
		}
		if left := p.Survivors(); len(left) > 0 {
			t.Errorf("processes of group %d outlived the test: %v (killed now)", p.PID(), left)
			p.KillGroup()
		}
		if t.Failed() {
			t.Logf("output of pid %d:\n%s", p.PID(), p.Output())
		}
	})
}

// WaitLineT is WaitLine that fails t on timeout.
func (p *Process) WaitLineT(t testing.TB, pattern string) []string {
	t.Helper()
	m, err := p.WaitLine(regexp.MustCompile(pattern), ReadyTimeout)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// WaitMatchesT is WaitMatches that fails t on timeout.
func (p *Process) WaitMatchesT(t testing.TB, pattern string, n int) [][]string {
	t.Helper()
	m, err := p.WaitMatches(regexp.MustCompile(pattern), n, ReadyTimeout)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// SignalT is Signal that fails t on error.
func (p *Process) SignalT(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := p.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// WaitT waits for the process to exit and returns its exit code; it fails t
// if that takes longer than ExitTimeout.
func (p *Process) WaitT(t testing.TB) int {
	t.Helper()
	code, err := p.Wait(ExitTimeout)
	if err != nil && code != -1 {
		t.Fatal(err)
	}
	return code
}
