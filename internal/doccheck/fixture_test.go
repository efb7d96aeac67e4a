package doccheck

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func runFixture(t *testing.T, text string, timeout time.Duration) (*Result, error) {
	t.Helper()
	doc, err := Parse("fixture.md", text)
	if err != nil {
		return nil, err
	}
	return Run(doc, Options{RepoRoot: t.TempDir(), CmdTimeout: timeout})
}

// TestFixturePasses: the checker accepts a correct transcript and lists
// the skipped block.
func TestFixturePasses(t *testing.T) {
	data, err := os.ReadFile("testdata/fixture.md")
	if err != nil {
		t.Fatal(err)
	}
	res, err := runFixture(t, string(data), 20*time.Second)
	if err != nil {
		t.Fatalf("correct fixture failed: %v", err)
	}
	if len(res.NotRun) != 1 || !strings.Contains(res.NotRun[0], "skipped: macOS only: lsof") {
		t.Errorf("not-run list = %q, want the one skipped block with its reason", res.NotRun)
	}
}

// TestFixtureFailsOnAnyChangedLine changes each line of each transcript in
// turn (output lines and commands) and requires the checker to fail; for
// an output line, naming exactly that line.
func TestFixtureFailsOnAnyChangedLine(t *testing.T) {
	data, err := os.ReadFile("testdata/fixture.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	doc, err := Parse("fixture.md", string(data))
	if err != nil {
		t.Fatal(err)
	}
	type target struct {
		line   int
		output bool
	}
	var targets []target
	for _, b := range doc.Blocks {
		if b.Dir.Skip {
			continue
		}
		for _, l := range b.Output {
			targets = append(targets, target{l.Line, true})
		}
		for _, c := range b.Cmds {
			targets = append(targets, target{c.Line, false})
			for _, l := range c.Expect {
				if strings.TrimSpace(l.Text) != Ellipsis {
					targets = append(targets, target{l.Line, true})
				}
			}
		}
	}
	if len(targets) < 12 {
		t.Fatalf("only %d lines to change; the fixture lost its blocks?", len(targets))
	}
	for _, tg := range targets {
		changed := append([]string(nil), lines...)
		changed[tg.line-1] += "X"
		// a changed line never appears: 2 s is enough to give up on it
		_, err := runFixture(t, strings.Join(changed, "\n"), 2*time.Second)
		var f *Failure
		switch {
		case err == nil:
			t.Errorf("line %d changed to %q: the checker passed", tg.line, changed[tg.line-1])
		case !errors.As(err, &f):
			t.Errorf("line %d changed: error without a file:line: %v", tg.line, err)
		case tg.output && f.Line != tg.line:
			t.Errorf("line %d changed: failure names line %d: %v", tg.line, f.Line, err)
		}
	}
}

// TestParseRejects: what the doc contract forbids is an error with the
// file and line.
func TestParseRejects(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"sh block", "```sh\ngo test ./...\n```\n", "fixture.md:1: ```sh block"},
		{"command in text block", "```text\n$ ls\n```\n", "fixture.md:2: a \"$ \" command in a ```text block"},
		{"directive not before a fence", "<!-- check: slow -->\n\ntext\n", "fixture.md:1: a check directive"},
		{"skip without reason", "<!-- check: skip -->\n```console\n$ ls\n```\n", "skip needs a reason"},
		{"unknown directive", "<!-- check: fast -->\n```console\n$ ls\n```\n", `unknown directive "fast"`},
		{"output without directive", "```console\nhello\n```\n", "fixture.md:2: output before the first"},
	} {
		_, err := Parse("fixture.md", tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}
