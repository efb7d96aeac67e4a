package doccheck

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// studyGroupPath is every English doc a study group reads in the evening
// and at home (docs/facilitator.md is the order). Each has a Japanese twin.
var studyGroupPath = []string{
	"README.md",
	"docs/participants.md",
	"docs/facilitator.md",
	"docs/walkthrough.md",
	"docs/worksheet.md",
	"docs/worksheet-answers.md",
	"docs/sequence.md",
	"01-signals/README.md",
	"01-signals/answers/ANSWERS.md",
	"02-fd-inheritance/README.md",
	"02-fd-inheritance/answers/ANSWERS.md",
	"03-fork-exec/README.md",
	"03-fork-exec/answers/ANSWERS.md",
	"04-graceful-shutdown/README.md",
	"04-graceful-shutdown/answers/ANSWERS.md",
	"05-full-starter/README.md",
	"05-full-starter/EXERCISES-answers.md",
	"docs/beyond-one-machine.md",
}

// twinOf is the Japanese twin's path of an English doc: X.md → X.ja.md.
func twinOf(en string) string { return strings.TrimSuffix(en, ".md") + ".ja.md" }

// TestTwins fails when an English doc and its Japanese twin (X.md and
// X.ja.md) could drift apart unnoticed: when their console blocks, with
// the directives before them, are not the same blocks in the same order
// (a command added to one language and not the other), when either does
// not link the other right under its title, or when a doc of the study
// group's path has no twin. TestDocs runs both files; this test makes sure
// they show the same thing.
func TestTwins(t *testing.T) {
	root := repoRoot(t)
	files := markdownFiles(t, root)
	has := map[string]bool{}
	for _, f := range files {
		has[filepath.ToSlash(f)] = true
	}
	for _, en := range studyGroupPath {
		if !has[en] {
			t.Errorf("%s: in the study group's path but not in the repository", en)
		} else if !has[twinOf(en)] {
			t.Errorf("%s: no Japanese twin %s", en, twinOf(en))
		}
	}
	for _, f := range files {
		f = filepath.ToSlash(f)
		if strings.HasSuffix(f, ".ja.md") {
			en := strings.TrimSuffix(f, ".ja.md") + ".md"
			if !has[en] {
				t.Errorf("%s: a Japanese twin of %s, which does not exist", f, en)
				continue
			}
			t.Run(strings.ReplaceAll(f, "/", "_"), func(t *testing.T) {
				enText, jaText := readDoc(t, root, en), readDoc(t, root, f)
				if err := sameBlocks(en, enText, f, jaText); err != nil {
					t.Error(err)
				}
				base := filepath.Base(en)
				if err := linkUnderTitle(en, enText, "**English** · [日本語]("+twinOf(base)+")"); err != nil {
					t.Error(err)
				}
				if err := linkUnderTitle(f, jaText, "[English]("+base+") · **日本語**"); err != nil {
					t.Error(err)
				}
			})
		} else if text := readDoc(t, root, f); strings.Contains(text, "[日本語]("+twinOf(filepath.Base(f))+")") && !has[twinOf(f)] {
			t.Errorf("%s: links %s, which does not exist", f, twinOf(filepath.Base(f)))
		}
	}
}

func readDoc(t *testing.T, root, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// sameBlocks returns an error naming the first console block (directive,
// commands and expected output) that differs between the English doc and
// its twin, or a block one of them has and the other has not.
func sameBlocks(enPath, enText, jaPath, jaText string) error {
	enDoc, err := Parse(enPath, enText)
	if err != nil {
		return err
	}
	jaDoc, err := Parse(jaPath, jaText)
	if err != nil {
		return err
	}
	for i := 0; i < max(len(enDoc.Blocks), len(jaDoc.Blocks)); i++ {
		switch {
		case i >= len(jaDoc.Blocks):
			return fmt.Errorf("%s:%d: console block %d has no counterpart in %s (it has %d blocks, the English %d)",
				enPath, enDoc.Blocks[i].Line, i+1, jaPath, len(jaDoc.Blocks), len(enDoc.Blocks))
		case i >= len(enDoc.Blocks):
			return fmt.Errorf("%s:%d: console block %d has no counterpart in %s (it has %d blocks, the Japanese %d)",
				jaPath, jaDoc.Blocks[i].Line, i+1, enPath, len(enDoc.Blocks), len(jaDoc.Blocks))
		}
		a, b := blockText(enDoc.Blocks[i]), blockText(jaDoc.Blocks[i])
		if a != b {
			return fmt.Errorf("console block %d differs: %s:%d and %s:%d must show the same directive, commands and output\n--- %s\n%s--- %s\n%s",
				i+1, enPath, enDoc.Blocks[i].Line, jaPath, jaDoc.Blocks[i].Line, enPath, a, jaPath, b)
		}
	}
	return nil
}

// blockText is a console block as the checker sees it, one item per line.
func blockText(b *Block) string {
	var s strings.Builder
	if b.Directive != "" {
		fmt.Fprintf(&s, "<!-- check: %s -->\n", b.Directive)
	}
	for _, l := range b.Output {
		fmt.Fprintf(&s, "%s\n", l.Text)
	}
	for _, c := range b.Cmds {
		fmt.Fprintf(&s, "$ %s\n", c.Text)
		for _, l := range c.Expect {
			fmt.Fprintf(&s, "%s\n", l.Text)
		}
	}
	return s.String()
}

// linkUnderTitle checks that the first non-blank line after the doc's
// first "# " heading is link.
func linkUnderTitle(path, text, link string) error {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "# ") {
			continue
		}
		for _, next := range lines[i+1:] {
			if strings.TrimSpace(next) == "" {
				continue
			}
			if strings.TrimSpace(next) != link {
				return fmt.Errorf("%s:%d: the line under the title must be %q, not %q", path, i+1, link, strings.TrimSpace(next))
			}
			return nil
		}
	}
	return fmt.Errorf("%s: no \"# \" title followed by the line %q", path, link)
}

// TestTwinComparison shows that sameBlocks and linkUnderTitle catch what
// TestTwins relies on them to catch.
func TestTwinComparison(t *testing.T) {
	en := "# Title\n\n**English** · [日本語](X.ja.md)\n\nRun it:\n\n<!-- check: vary ok -->\n```console\n$ echo ok 1\nok 1\n```\n"
	ja := "# 題名\n\n[English](X.md) · **日本語**\n\n実行します。\n\n<!-- check: vary ok -->\n```console\n$ echo ok 1\nok 1\n```\n"
	if err := sameBlocks("X.md", en, "X.ja.md", ja); err != nil {
		t.Errorf("same blocks, different prose: %v", err)
	}
	for name, bad := range map[string]string{
		"a command added":     strings.Replace(ja, "$ echo ok 1\nok 1\n", "$ echo ok 1\nok 1\n$ true\n", 1),
		"output changed":      strings.Replace(ja, "\nok 1\n```", "\nok 2\n```", 1),
		"directive dropped":   strings.Replace(ja, "<!-- check: vary ok -->\n", "", 1),
		"a block added":       ja + "\n```console\n$ true\n```\n",
		"the block dropped":   ja[:strings.Index(ja, "<!--")],
		"a text block is not": strings.Replace(ja, "```console", "```text", 1),
	} {
		if err := sameBlocks("X.md", en, "X.ja.md", bad); err == nil {
			t.Errorf("%s: sameBlocks found no difference", name)
		}
	}
	if err := linkUnderTitle("X.md", en, "**English** · [日本語](X.ja.md)"); err != nil {
		t.Error(err)
	}
	if err := linkUnderTitle("X.ja.md", ja, "[English](X.md) · **日本語**"); err != nil {
		t.Error(err)
	}
	if err := linkUnderTitle("X.ja.md", strings.Replace(ja, "[English](X.md) · **日本語**\n\n", "", 1), "[English](X.md) · **日本語**"); err == nil {
		t.Error("linkUnderTitle accepted a title without the link under it")
	}
}
