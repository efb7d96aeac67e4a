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

// TestReadingTheCodeSizes fails when a line count the docs give for one of
// 05's files is not what `wc -l` says now: the 05 README's command-line row
// and its "Reading the code" table (with the package total), and the
// walkthrough's stage 05 section, in both languages.
func TestReadingTheCodeSizes(t *testing.T) {
	root := repoRoot(t)
	lines := func(rel string) int { // a file, or the non-test .go files of a directory
		files := []string{filepath.Join(root, rel)}
		if strings.HasSuffix(rel, "/") {
			files, _ = filepath.Glob(filepath.Join(root, rel, "*.go"))
		}
		n := 0
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			n += strings.Count(string(data), "\n")
		}
		return n
	}
	check := func(doc, what string, got int, file string) {
		if want := lines(file); got != want {
			t.Errorf("%s: says %s has %d lines; `wc -l` says %d", doc, what, got, want)
		}
	}
	name := regexp.MustCompile("`([a-z_]+\\.go|systemd/)`")
	inline := regexp.MustCompile("`([a-z_]+\\.go)` ?[(（](\\d+)")
	sizes := regexp.MustCompile(`^ [\d、, /]+ $`) // "228, 207", "9/23"
	total := regexp.MustCompile(`(\d+) (?:lines without tests|行あります)`)
	for _, doc := range []string{"05-full-starter/README.md", "05-full-starter/README.ja.md"} {
		text, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		rows := 0
		for _, line := range strings.Split(string(text), "\n") {
			cells := strings.Split(line, "|")
			switch {
			case strings.HasPrefix(line, "| `05-full-starter/*.go` |"):
				for _, m := range inline.FindAllStringSubmatch(line, -1) {
					n, _ := strconv.Atoi(m[2])
					check(doc, m[1], n, "05-full-starter/"+m[1])
					rows++
				}
			case len(cells) == 5 && name.MatchString(cells[1]) && sizes.MatchString(cells[2]):
				files := name.FindAllStringSubmatch(cells[1], -1)
				nums := regexp.MustCompile(`\d+`).FindAllString(cells[2], -1)
				if len(files) != len(nums) {
					t.Errorf("%s: %d files but %d line counts in %q", doc, len(files), len(nums), line)
					continue
				}
				for i, f := range files {
					n, _ := strconv.Atoi(nums[i])
					check(doc, f[1], n, "05-full-starter/starter/"+f[1])
					rows++
				}
			}
		}
		if rows < 20 {
			t.Errorf("%s: found %d file sizes; the command-line row or the Reading the code table moved?", doc, rows)
		}
		m := total.FindStringSubmatch(string(text))
		if m == nil {
			t.Errorf("%s: no package total (\"N lines without tests\")", doc)
			continue
		}
		n, _ := strconv.Atoi(m[1])
		var sum int
		files, _ := filepath.Glob(filepath.Join(root, "05-full-starter/starter/*.go"))
		for _, f := range files {
			if !strings.HasSuffix(f, "_test.go") {
				rel, _ := filepath.Rel(root, f)
				sum += lines(rel)
			}
		}
		if n != sum {
			t.Errorf("%s: says package starter has %d lines without tests; it has %d", doc, n, sum)
		}
	}
	for _, doc := range []string{"docs/walkthrough.md", "docs/walkthrough.ja.md"} {
		text, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		_, stage05, _ := strings.Cut(string(text), "05-full-starter/README")
		stage05, _, _ = strings.Cut(stage05, "\n## ")
		ms := inline.FindAllStringSubmatch(stage05, -1)
		if len(ms) < 5 {
			t.Errorf("%s: found %d file sizes in stage 05's section", doc, len(ms))
		}
		for _, m := range ms {
			n, _ := strconv.Atoi(m[2])
			check(doc, m[1], n, "05-full-starter/starter/"+m[1])
		}
	}
}

// TestComparisonTableCopies: the top README shows the comparison with
// Perl's start_server as a copy of the 05 README's table (whose run is too
// long for the checker); the copy must be the same, in each language.
func TestComparisonTableCopies(t *testing.T) {
	root := repoRoot(t)
	table := func(doc string) string {
		text, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		_, rest, ok := strings.Cut(string(text), "\n| measure (median (min–max)) |")
		if !ok {
			t.Fatalf("%s: no comparison table", doc)
		}
		var rows []string
		for _, line := range strings.Split("| measure (median (min–max)) |"+rest, "\n") {
			if !strings.HasPrefix(line, "|") {
				break
			}
			rows = append(rows, line)
		}
		return strings.Join(rows, "\n")
	}
	for _, lang := range []string{"", ".ja"} {
		top, stage := "README"+lang+".md", "05-full-starter/README"+lang+".md"
		if a, b := table(top), table(stage); a != b {
			t.Errorf("%s: the comparison table is not the one in %s (copy it from there)", top, stage)
		}
	}
}
