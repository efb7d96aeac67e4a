package doccheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// repoRoot is the repository this package is in.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("no go.mod two levels up from internal/doccheck: %v", err)
	}
	return dir
}

// markdownFiles lists every *.md of the repository (every README*,
// ANSWERS*, EXERCISES*, docs/*.md, and their translations), except under
// .git, testdata and directories starting with _ or .
func markdownFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && p != root && (name == "testdata" || strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(name, ".md") {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestDocs runs every transcript of every Markdown file of the
// repository. See the package documentation.
func TestDocs(t *testing.T) {
	if os.Getenv("DOCCHECK_INSIDE") != "" {
		t.Skip("inside a doc run (a doc runs go test): not checking the docs again")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the transcripts are from Linux (/proc, ss); the docs are checked on Linux only")
	}
	root := repoRoot(t)
	only := os.Getenv("DOCCHECK_FILE")
	slow := os.Getenv("DOCCHECK_SLOW") != ""
	files := markdownFiles(t, root)
	if len(files) == 0 {
		t.Fatal("no Markdown files found")
	}
	var docs []*Doc
	for _, f := range files {
		if only != "" && !matchesAny(f, strings.Split(only, ",")) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := Parse(f, string(data))
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		docs = append(docs, doc)
	}
	for _, doc := range docs {
		t.Run(strings.ReplaceAll(doc.Path, "/", "_"), func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			res, err := Run(doc, Options{RepoRoot: root, Slow: slow, Log: func(format string, args ...any) {
				if testing.Verbose() {
					t.Logf(format, args...)
				}
			}})
			for _, n := range res.NotRun {
				t.Log(n)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d blocks checked in %v", doc.Path, res.Ran, time.Since(start).Round(time.Millisecond))
		})
	}
}

// matchesAny reports whether path contains one of the (non-empty) parts.
func matchesAny(path string, parts []string) bool {
	for _, p := range parts {
		if p != "" && strings.Contains(path, p) {
			return true
		}
	}
	return false
}
