package exercises

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A wrongSolution is a plausible mistake a learner makes in an exercise,
// written as a patch to the stage's main.go (the answer): by default
// testdata/wrong/<stage>/<name>.patch. Its exercise test must fail on it, in
// the named test, with a failure message that says what to check.
type wrongSolution struct {
	stage, name string
	patch       string        // the patch, from the module root, if not the default
	test        string        // the exercise test that must fail (run alone with -run)
	hint        string        // a substring of the failure output: the hint for this mistake
	within      time.Duration // the test must fail within this long (0: no limit of its own)
}

var wrongSolutions = []wrongSolution{
	// The listener is never closed: the server logs and keeps serving. The
	// test must say so in seconds, not after minutes of timeouts.
	{"01-signals", "no-close", "", "TestSignalStopsTheServer", "closes ln after logging", 40 * time.Second},
	// HOTDEPLOY_LISTEN_FD=3, as stage 03 passes it and as the first image
	// has it: right for the first SIGHUP only.
	{"02-fd-inheritance", "fd3", "", "TestSocketSurvivesReexec", "not a constant", 0},
	// current is never set to the new worker: every restart stops the
	// first worker again, and the others all keep serving.
	{"03-fork-exec", "no-current", "", "TestSIGHUPStartsNewWorkerFirst", "current = the new worker", 0},
	// Each new worker is started as generation+1, but generation stays 1:
	// every new worker is "generation 2".
	{"03-fork-exec", "no-increment", "", "TestSIGHUPStartsNewWorkerFirst", "generation must grow by one", 0},
	// The old worker stopped first (exercise 1 of the stage): the log's
	// order shows it, and so does what it costs when the new binary cannot
	// start.
	{"03-fork-exec", "stop-old-first", "03-fork-exec/answers/stop-old-first.patch",
		"TestSIGHUPStartsNewWorkerFirst", "Start the new worker first", 0},
	{"03-fork-exec", "stop-old-first", "03-fork-exec/answers/stop-old-first.patch",
		"TestFailedStartKeepsTheOldWorker", "keep the old one (do not stop it)", 0},
	// drain waits for the last connection with no time limit: one idle
	// keep-alive client holds it until the master's SIGKILL, and Shutdown
	// never runs.
	{"04-graceful-shutdown", "wait-forever", "", "TestIdleKeepAliveClientDoesNotHoldTheDrain",
		"whichever comes first", 0},
	// drain sleeps timeout/2 instead of watching the connections: it works,
	// but every restart takes half the drain timeout.
	{"04-graceful-shutdown", "sleep", "", "TestRequestInFlightCompletes", "not for a fixed time", 0},
}

// TestWrongSolutionsFail applies each wrong solution to a scratch copy of its
// stage's main.go and runs the exercise test on it with -answer, the copy
// put in place of main.go by go's -overlay (through GOFLAGS, so that the
// exercise test's own `go build ..` sees it too). The test must fail, in the
// expected test, with the expected hint.
func TestWrongSolutionsFail(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on every wrong solution; skipped with -short")
	}
	absRoot, err := filepath.Abs(root)
	require.NoError(t, err)
	for _, w := range wrongSolutions {
		t.Run(w.stage+"/"+w.name+"/"+w.test, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			patched := filepath.Join(dir, w.stage, "main.go")
			require.NoError(t, os.MkdirAll(filepath.Dir(patched), 0o755))
			orig, err := os.ReadFile(filepath.Join(absRoot, w.stage, "main.go"))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(patched, orig, 0o644))
			patch := filepath.Join(absRoot, "internal", "exercises", "testdata", "wrong", w.stage, w.name+".patch")
			if w.patch != "" {
				patch = filepath.Join(absRoot, w.patch)
			}
			apply := exec.Command("git", "apply", patch)
			apply.Dir = dir
			out, err := apply.CombinedOutput()
			require.NoError(t, err, "git apply %s: %s", patch, out)

			overlay := filepath.Join(dir, "overlay.json")
			ov, err := json.Marshal(map[string]map[string]string{
				"Replace": {filepath.Join(absRoot, w.stage, "main.go"): patched},
			})
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(overlay, ov, 0o644))

			cmd := exec.Command("go", "test", "-count=1", "-tags", "exercise", "-json",
				"-run", "^"+w.test+"$", "./"+w.stage+"/exercise/", "-answer")
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -overlay="+overlay))
			out, _ = cmd.Output() // exits 1 by design; the events say why
			pkg := "hotdeploy/" + w.stage + "/exercise"
			action, failed, output := parseEvents(t, out)
			require.Equal(t, "fail", action[pkg], "%s with %s.patch must fail:\n%s", pkg, w.name, output[pkg])
			assert.Contains(t, failed[pkg], w.test, "the test that must fail:\n%s", output[pkg])
			assert.Contains(t, output[pkg], w.hint, "the failure must say what to check")
			if w.within > 0 {
				took := elapsed(t, out, pkg, w.test)
				t.Logf("%s failed after %v", w.test, took)
				assert.LessOrEqual(t, took, w.within, "%s took too long to fail", w.test)
			}
		})
	}
}

// elapsed is the run time `go test -json` reports for test in pkg.
func elapsed(t *testing.T, out []byte, pkg, test string) time.Duration {
	t.Helper()
	for _, line := range strings.Split(string(out), "\n") {
		var ev struct {
			Action, Package, Test string
			Elapsed               float64
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Package == pkg && ev.Test == test &&
			(ev.Action == "fail" || ev.Action == "pass") {
			return time.Duration(ev.Elapsed * float64(time.Second))
		}
	}
	t.Fatalf("no end event for %s in %s", test, pkg)
	return 0
}
