package doccheck

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestStageDiffsAreFresh fails when a stage's CHANGES.diff is not what
// scripts/stagediffs.sh writes now, or when the stage README does not link
// it with its size in lines.
func TestStageDiffsAreFresh(t *testing.T) {
	if _, err := exec.LookPath("diff"); err != nil {
		t.Skip("no diff(1)")
	}
	root := repoRoot(t)
	cmd := exec.Command("bash", "scripts/stagediffs.sh", "-check")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/stagediffs.sh -check: %v\n%s", err, out)
	}
	diffs, err := filepath.Glob(filepath.Join(root, "0*", "CHANGES.diff"))
	if err != nil || len(diffs) != 3 {
		t.Fatalf("want CHANGES.diff in stages 02, 03 and 04, found %v (%v)", diffs, err)
	}
	sizeRE := regexp.MustCompile(`\[CHANGES\.diff\]\(CHANGES\.diff\) ?[(（](\d+) (?:lines|行)`)
	for _, d := range diffs {
		data, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Count(string(data), "\n")
		readmes, _ := filepath.Glob(filepath.Join(filepath.Dir(d), "README*.md"))
		if len(readmes) == 0 {
			t.Errorf("%s: no README next to it", d)
		}
		for _, r := range readmes {
			text, err := os.ReadFile(r)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(root, r)
			m := sizeRE.FindSubmatch(text)
			if m == nil {
				t.Errorf("%s: its \"What changed\" does not link [CHANGES.diff](CHANGES.diff) (N lines) (or, in Japanese, （N 行）)", rel)
				continue
			}
			if n, _ := strconv.Atoi(string(m[1])); n != lines {
				t.Errorf("%s: says CHANGES.diff has %d lines; it has %d", rel, n, lines)
			}
		}
	}
}

// TestAnswerPatchesApplyExactly applies every answers/*.patch to the file
// it names, in memory, and fails unless every hunk's context and removed
// lines are exactly at the line numbers the hunk states (no offset, no
// fuzz).
func TestAnswerPatchesApplyExactly(t *testing.T) {
	root := repoRoot(t)
	patches, err := filepath.Glob(filepath.Join(root, "*", "answers", "*.patch"))
	if err != nil {
		t.Fatal(err)
	}
	if len(patches) == 0 {
		t.Fatal("no answers/*.patch found")
	}
	for _, p := range patches {
		rel, _ := filepath.Rel(root, p)
		t.Run(rel, func(t *testing.T) {
			if err := checkPatch(root, p); err != nil {
				t.Errorf("%s: %v", rel, err)
			}
		})
	}
}

var hunkRE = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@`)

// checkPatch checks a unified diff (paths a/… b/…, as patch -p1 takes
// them relative to the repository root) against the repository.
func checkPatch(root, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var target []string
	var name string
	files := 0
	sc := bufio.NewScanner(f)
	ln := 0
	var want []string // old side of the current hunk
	oldStart, oldLen := 0, 0
	flush := func() error {
		if want == nil {
			return nil
		}
		if len(want) != oldLen {
			return fmt.Errorf("hunk at old line %d: header says %d old lines, hunk has %d", oldStart, oldLen, len(want))
		}
		start := oldStart - 1
		if oldLen == 0 {
			start = oldStart
		}
		for i, w := range want {
			at := start + i
			if at < 0 || at >= len(target) || target[at] != w {
				got := "(end of file)"
				if at >= 0 && at < len(target) {
					got = target[at]
				}
				return fmt.Errorf("%s:%d: hunk expects %q, file has %q (refresh the patch)", name, at+1, w, got)
			}
		}
		want = nil
		return nil
	}
	for sc.Scan() {
		ln++
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "--- "):
			if err := flush(); err != nil {
				return err
			}
			p := strings.Fields(strings.TrimPrefix(l, "--- "))[0]
			p = strings.TrimPrefix(p, "a/")
			data, err := os.ReadFile(filepath.Join(root, p))
			if err != nil {
				return fmt.Errorf("line %d: %w", ln, err)
			}
			name, target = p, strings.Split(string(data), "\n")
			files++
		case strings.HasPrefix(l, "+++ "):
		case strings.HasPrefix(l, "@@"):
			if err := flush(); err != nil {
				return err
			}
			m := hunkRE.FindStringSubmatch(l)
			if m == nil || target == nil {
				return fmt.Errorf("line %d: bad hunk header %q", ln, l)
			}
			oldStart, _ = strconv.Atoi(m[1])
			oldLen = 1
			if m[2] != "" {
				oldLen, _ = strconv.Atoi(m[2])
			}
			want = []string{}
		case want != nil && (strings.HasPrefix(l, " ") || l == ""):
			want = append(want, strings.TrimPrefix(l, " "))
		case want != nil && strings.HasPrefix(l, "-"):
			want = append(want, l[1:])
		}
		// Other lines (added ones, "\ No newline at end of file") are not
		// in the old text.
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	if files == 0 {
		return fmt.Errorf("no file in the patch")
	}
	return nil
}
