package exercises

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A wrongSolution is a plausible mistake a learner makes in an exercise,
// written as a patch to the answer (a stage's main.go, or 05's
// example/ws.go; the patch names it): by default
// testdata/wrong/<stage>/<name>.patch. Its exercise tests must fail on it,
// each named one with a failure message that says what to check.
type wrongSolution struct {
	stage, name string
	patch       string // the patch, from the module root, if not the default
	fails       []failure
}

// A failure is an exercise test that must fail on a wrong solution.
type failure struct {
	test   string        // the test's name
	hint   string        // a substring of the output: the hint for this mistake
	within time.Duration // the test must fail within this long (0: no limit of its own)
}

var wrongSolutions = []wrongSolution{
	// The listener is never closed: the server logs and keeps serving. The
	// test must say so in seconds, not after minutes of timeouts.
	{"01-signals", "no-close", "", []failure{{"TestSignalStopsTheServer", "closes ln after logging", 40 * time.Second}}},
	// HOTDEPLOY_LISTEN_FD=3, as stage 03 passes it and as the first image
	// has it: right for the first SIGHUP only.
	{"02-fd-inheritance", "fd3", "", []failure{{"TestSocketSurvivesReexec", "not a constant", 0}}},
	// current is never set to the new worker: every restart stops the
	// first worker again, and the others all keep serving.
	{"03-fork-exec", "no-current", "", []failure{{"TestSIGHUPStartsNewWorkerFirst", "current = the new worker", 0}}},
	// Each new worker is started as generation+1, but generation stays 1:
	// every new worker is "generation 2".
	{"03-fork-exec", "no-increment", "", []failure{{"TestSIGHUPStartsNewWorkerFirst", "generation must grow by one", 0}}},
	// The old worker stopped first (exercise 1 of the stage): the log's
	// order shows it, and so does what it costs when the new binary cannot
	// start.
	{"03-fork-exec", "stop-old-first", "03-fork-exec/answers/stop-old-first.patch", []failure{
		{"TestSIGHUPStartsNewWorkerFirst", "Start the new worker first", 0},
		{"TestFailedStartKeepsTheOldWorker", "keep the old one (do not stop it)", 0},
	}},
	// drain waits for the last connection with no time limit: one idle
	// keep-alive client holds it until the master's SIGKILL, and Shutdown
	// never runs.
	{"04-graceful-shutdown", "wait-forever", "", []failure{
		{"TestIdleKeepAliveClientDoesNotHoldTheDrain", "whichever comes first", 0}}},
	// drain sleeps timeout/2 instead of watching the connections: it works,
	// but every restart takes half the drain timeout.
	{"04-graceful-shutdown", "sleep", "", []failure{{"TestRequestInFlightCompletes", "not for a fixed time", 0}}},
	// drain gives idle connections the whole timeout instead of half of
	// it: a restart with an idle keep-alive client takes twice as long.
	{"04-graceful-shutdown", "full-timeout", "", []failure{
		{"TestIdleKeepAliveClientDoesNotHoldTheDrain", "not after the whole timeout", 0}}},
	// Shutdown without the drain's deadline: a request longer than
	// -drain-timeout holds the old worker until the master kills it.
	{"04-graceful-shutdown", "no-deadline", "", []failure{
		{"TestRequestOverTheDrainTimeoutIsCut", "passes ctx (which ends at the drain timeout)", 0}}},
	// The WebSocket handler reports itself done as soon as the drain asks
	// it to stop, before its close handshake: the worker exits under it.
	{"05-full-starter", "done-before-close", "", []failure{
		{"TestCloseHandshakeIsAwaited", "before done tells the drain it is over", 0}}},
}

// TestWrongSolutionsFail applies each wrong solution to a scratch copy of the
// answer file it patches and runs the exercise tests on it with -answer, the
// copy put in place of that file by go's -overlay (through GOFLAGS, which the
// exercise test's own `go build ..` sees). The named tests must fail, each
// with its hint. Each stage's exercise test binary is built once (it does
// not contain main.go: the test builds the answer itself). The runs are
// mostly waiting for a deadline to pass, so three go at once, in
// goroutines (go test's -parallel is 2 on a 2-core machine); then a subtest
// per wrong solution checks what its run printed.
func TestWrongSolutionsFail(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on every wrong solution; skipped with -short")
	}
	t.Parallel()
	absRoot, err := filepath.Abs(root)
	require.NoError(t, err)
	binDir, scratch := t.TempDir(), t.TempDir()
	var mu sync.Mutex
	builds := map[string]func() (string, error){}
	testBinary := func(stage string) (string, error) {
		mu.Lock()
		build, ok := builds[stage]
		if !ok {
			build = sync.OnceValues(func() (string, error) {
				bin := filepath.Join(binDir, stage+".test")
				cmd := exec.Command("go", "test", "-c", "-tags", "exercise", "-o", bin, "./"+stage+"/exercise/")
				cmd.Dir = root
				if out, err := cmd.CombinedOutput(); err != nil {
					return "", fmt.Errorf("go test -c %s: %w\n%s", stage, err, out)
				}
				return bin, nil
			})
			builds[stage] = build
		}
		mu.Unlock()
		return build()
	}

	type result struct {
		out []byte
		err error // the run's: it must fail
		bad error // the setup's: patch, overlay, build
	}
	results := make([]result, len(wrongSolutions))
	sem := make(chan struct{}, 3)
	var wg sync.WaitGroup
	for i, w := range wrongSolutions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			dir := filepath.Join(scratch, strconv.Itoa(i))
			out, err, bad := runWrong(absRoot, dir, w, testBinary)
			results[i] = result{out, err, bad}
		}()
	}
	wg.Wait()

	for i, w := range wrongSolutions {
		t.Run(w.stage+"/"+w.name, func(t *testing.T) {
			r := results[i]
			require.NoError(t, r.bad)
			require.Error(t, r.err, "%s with %s.patch must fail:\n%s", w.stage, w.name, r.out)
			failed := failedTests(string(r.out))
			for _, f := range w.fails {
				took, ok := failed[f.test]
				if !assert.True(t, ok, "%s must fail:\n%s", f.test, r.out) {
					continue
				}
				assert.Contains(t, string(r.out), f.hint, "the failure must say what to check")
				if f.within > 0 {
					t.Logf("%s failed after %v", f.test, took)
					assert.LessOrEqual(t, took, f.within, "%s took too long to fail", f.test)
				}
			}
		})
	}
}

// runWrong applies w's patch to a copy, in dir, of the file it patches and
// runs the stage's exercise tests named in w on it. It returns their output
// and exit error, or, in bad, what went wrong before they could run.
func runWrong(absRoot, dir string, w wrongSolution, testBinary func(string) (string, error)) (out []byte, err, bad error) {
	patch := filepath.Join(absRoot, "internal", "exercises", "testdata", "wrong", w.stage, w.name+".patch")
	if w.patch != "" {
		patch = filepath.Join(absRoot, w.patch)
	}
	text, err := os.ReadFile(patch)
	if err != nil {
		return nil, nil, err
	}
	m := regexp.MustCompile(`(?m)^\+\+\+ b/(\S+)$`).FindSubmatch(text)
	if m == nil {
		return nil, nil, fmt.Errorf("%s: no +++ b/FILE line", patch)
	}
	file := string(m[1]) // from the module root
	patched := filepath.Join(dir, file)
	if err := os.MkdirAll(filepath.Dir(patched), 0o755); err != nil {
		return nil, nil, err
	}
	orig, err := os.ReadFile(filepath.Join(absRoot, file))
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(patched, orig, 0o644); err != nil {
		return nil, nil, err
	}
	apply := exec.Command("git", "apply", patch)
	apply.Dir = dir
	if out, err := apply.CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("git apply %s: %w\n%s", patch, err, out)
	}
	overlay := filepath.Join(dir, "overlay.json")
	ov, err := json.Marshal(map[string]map[string]string{
		"Replace": {filepath.Join(absRoot, file): patched},
	})
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(overlay, ov, 0o644); err != nil {
		return nil, nil, err
	}
	bin, err := testBinary(w.stage)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	for _, f := range w.fails {
		names = append(names, f.test)
	}
	// Run directly, a test binary has no time limit (go test gives one): a
	// wrong solution that hangs fails here, with its output, not the parent.
	cmd := exec.Command(bin, "-test.v", "-test.count=1", "-test.timeout=3m", "-test.run", "^("+strings.Join(names, "|")+")$", "-answer")
	cmd.Dir = filepath.Join(absRoot, w.stage, "exercise") // where go test would run it
	cmd.Env = append(os.Environ(), "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -overlay="+overlay))
	out, err = cmd.CombinedOutput()
	return out, err, nil
}

// failedTests reads the "--- FAIL: Name (1.23s)" lines of a test binary's
// -test.v output: the top-level tests that failed, and how long each took.
func failedTests(out string) map[string]time.Duration {
	failed := map[string]time.Duration{}
	for _, m := range regexp.MustCompile(`(?m)^--- FAIL: (\S+) \(([\d.]+)s\)$`).FindAllStringSubmatch(out, -1) {
		secs, _ := strconv.ParseFloat(m[2], 64)
		failed[m[1]] = time.Duration(secs * float64(time.Second))
	}
	return failed
}

func TestFailedTests(t *testing.T) {
	out := "=== RUN   TestA\n--- FAIL: TestA (8.05s)\n    --- FAIL: TestA/sub (1.00s)\n--- PASS: TestB (0.10s)\nFAIL\n"
	assert.Equal(t, map[string]time.Duration{"TestA": 8050 * time.Millisecond}, failedTests(out))
}
