package exercises

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stages with an exercise template, relative to the module root.
var stages = []string{"01-signals", "02-fd-inheritance", "03-fork-exec", "04-graceful-shutdown"}

// exercise is one template and its answer, relative to the module root, and
// the directory of its test.
type exercise struct{ name, template, answer, dir string }

// exercises: each stage's exercise/main.go and main.go, and stage 05's,
// whose template is one file of the example worker (exercise/ws.go, built
// in its place with go build -overlay by the exercise's test).
func exercises() []exercise {
	var ex []exercise
	for _, s := range stages {
		ex = append(ex, exercise{s, s + "/exercise/main.go", s + "/main.go", s + "/exercise"})
	}
	return append(ex, exercise{"05-full-starter", "05-full-starter/exercise/ws.go", "05-full-starter/example/ws.go", "05-full-starter/exercise"})
}

const root = "../.."

// TestTemplatesAreTheAnswerWithTODOs: every line the template has and the
// answer has not (by a line diff) is a comment or a TODO(exercise) line. A
// change to a stage's main.go that the template does not follow fails here.
func TestTemplatesAreTheAnswerWithTODOs(t *testing.T) {
	for _, ex := range exercises() {
		t.Run(ex.name, func(t *testing.T) {
			tmpl := readLines(t, filepath.Join(root, ex.template))
			ans := readLines(t, filepath.Join(root, ex.answer))
			todos := 0
			for _, line := range tmpl {
				if strings.Contains(line, "TODO(exercise)") {
					todos++
				}
			}
			assert.Positive(t, todos, "the template has no TODO(exercise)")
			only := onlyInFirst(tmpl, ans)
			header := true // the file's leading template-only lines; a blank one may follow a //go:build line
			for i, n := range only {
				header = header && n == i
				line := tmpl[n]
				if header && line == "" {
					continue
				}
				if !strings.HasPrefix(strings.TrimSpace(line), "//") && !strings.Contains(line, "TODO(exercise)") {
					t.Errorf("%s:%d is not in the answer (%s) and is neither "+
						"a comment nor a TODO(exercise) line: %q", ex.template, n+1, ex.answer, line)
				}
			}
			// Each run of template-only lines is the file's header or a
			// TODO block; any other is a comment the answer has changed
			// since (a stale copy).
			for _, run := range runs(only) {
				if run[0] == 0 {
					continue
				}
				todo, lint := false, true
				for _, n := range run {
					todo = todo || strings.Contains(tmpl[n], "TODO(exercise)")
					lint = lint && isLintDirective(tmpl[n])
				}
				if !todo && !lint {
					t.Errorf("%s:%d-%d: comment not in the answer and not part of a TODO(exercise): "+
						"copy it from %s", ex.template, run[0]+1, run[len(run)-1]+1, ex.answer)
				}
			}
			assert.NotEqual(t, ans, tmpl, "the template is the answer")
		})
	}
}

// isLintDirective reports whether line is a staticcheck directive or the
// empty comment line before it: a template needs one where its TODO leaves
// a function unused (U1000), and the answer does not.
func isLintDirective(line string) bool {
	l := strings.TrimSpace(line)
	return l == "//" || strings.HasPrefix(l, "//lint:ignore ")
}

// onlyInFirst returns the indexes of a's lines that a longest common
// subsequence of a and b leaves out: the lines `diff a b` shows as removed.
func onlyInFirst(a, b []string) []int {
	// lcs[i][j] is the LCS length of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var only []int
	i, j := 0, 0
	for i < len(a) {
		switch {
		case j < len(b) && a[i] == b[j]:
			i, j = i+1, j+1
		case j < len(b) && lcs[i][j+1] >= lcs[i+1][j]:
			j++
		default:
			only = append(only, i)
			i++
		}
	}
	return only
}

// runs splits sorted indexes into runs of consecutive ones.
func runs(idx []int) [][]int {
	var out [][]int
	for i, n := range idx {
		if i == 0 || n != idx[i-1]+1 {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], n)
	}
	return out
}

func TestRuns(t *testing.T) {
	assert.Equal(t, [][]int{{0, 1}, {4}, {6, 7, 8}}, runs([]int{0, 1, 4, 6, 7, 8}))
	assert.Empty(t, runs(nil))
}

func TestOnlyInFirst(t *testing.T) {
	a := []string{"x", "// todo", "y", "z", "new"}
	b := []string{"x", "old", "y", "z"}
	assert.Equal(t, []int{1, 4}, onlyInFirst(a, b))
	assert.Empty(t, onlyInFirst(b[:2], b))
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// TestTemplatesFailAnswersPass runs the exercise tests the way a learner
// does, once on the templates and once with -answer: every template must
// fail at least one test (and not merely fail to build), every answer must
// pass.
func TestTemplatesFailAnswersPass(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on ten builds; skipped with -short")
	}
	var pkgs []string
	for _, ex := range exercises() {
		pkgs = append(pkgs, "./"+ex.dir+"/")
	}
	for _, mode := range []string{"template", "answer"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"test", "-count=1", "-tags", "exercise", "-json"}, pkgs...)
			if mode == "answer" {
				args = append(args, "-answer")
			}
			cmd := exec.Command("go", args...)
			cmd.Dir = root
			out, _ := cmd.Output() // the template run exits 1 by design; the events say why
			pkgAction, failedTests, output := parseEvents(t, out)
			for _, ex := range exercises() {
				pkg := "hotdeploy/" + ex.dir
				if mode == "answer" {
					assert.Equal(t, "pass", pkgAction[pkg], "%s with -answer:\n%s", pkg, output[pkg])
				} else {
					assert.Equal(t, "fail", pkgAction[pkg], "%s on the template:\n%s", pkg, output[pkg])
					assert.NotEmpty(t, failedTests[pkg], "%s: the template must fail a test, not the build:\n%s", pkg, output[pkg])
				}
			}
		})
	}
}

// parseEvents reads `go test -json` output: the final action per package,
// the tests that failed per package, and the output per package.
func parseEvents(t *testing.T, out []byte) (map[string]string, map[string][]string, map[string]string) {
	t.Helper()
	action := map[string]string{}
	failed := map[string][]string{}
	text := map[string]*strings.Builder{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var ev struct{ Action, Package, Test, Output string }
		require.NoError(t, dec.Decode(&ev), "go test -json output")
		if text[ev.Package] == nil {
			text[ev.Package] = &strings.Builder{}
		}
		text[ev.Package].WriteString(ev.Output)
		switch {
		case ev.Test == "" && (ev.Action == "pass" || ev.Action == "fail" || ev.Action == "skip"):
			action[ev.Package] = ev.Action
		case ev.Test != "" && ev.Action == "fail":
			failed[ev.Package] = append(failed[ev.Package], ev.Test)
		}
	}
	output := map[string]string{}
	for p, b := range text {
		output[p] = b.String()
	}
	return action, failed, output
}
