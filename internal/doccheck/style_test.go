package doccheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// glossaryRules reads the style rules from docs/glossary.md, the one
// place they are kept.
func glossaryRules(t *testing.T) []StyleRule {
	t.Helper()
	root := repoRoot(t)
	rules, err := ParseStyleRules("docs/glossary.md", readDoc(t, root, "docs/glossary.md"))
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

// TestJapaneseStyle fails when a Japanese file (every *.ja.md of the
// repository) writes a word or a mark in a way docs/glossary.md's
// 表記の決まり says not to, or breaks a line where the break renders as a
// stray space. Each finding names the file, the line, the variant and the
// glossary's term.
func TestJapaneseStyle(t *testing.T) {
	root := repoRoot(t)
	rules := glossaryRules(t)
	n := 0
	for _, f := range markdownFiles(t, root) {
		f = filepath.ToSlash(f)
		if !strings.HasSuffix(f, ".ja.md") {
			continue
		}
		n++
		for _, x := range CheckStyle(f, readDoc(t, root, f), rules) {
			t.Error(x)
		}
	}
	if n < 16 {
		t.Errorf("only %d *.ja.md files found; the Japanese edition has more", n)
	}
}

// TestGlossaryStyleRules: the rules are there, each word is a term the
// glossary uses outside the rules' own section (one source of truth), and
// a planted 終了コード is reported with the glossary's 終了ステータス.
func TestGlossaryStyleRules(t *testing.T) {
	root := repoRoot(t)
	glossary := readDoc(t, root, "docs/glossary.md")
	rules := glossaryRules(t)
	section := regexp.MustCompile(`(?m)^## .*` + styleSection).FindStringIndex(glossary)
	if section == nil {
		t.Fatalf("docs/glossary.md: no section %q", styleSection)
	}
	rest := glossary[:section[0]]
	words, marks := 0, 0
	for _, r := range rules {
		if r.Mark {
			marks++
			continue
		}
		words++
		for _, use := range strings.Split(r.Use, "、") {
			if !strings.Contains(rest, strings.TrimSpace(use)) {
				t.Errorf("docs/glossary.md:%d: %q is not a term of the glossary's tables above", r.Line, use)
			}
		}
	}
	if words < 8 || marks < 4 {
		t.Errorf("%d word rules and %d mark rules; the glossary has more", words, marks)
	}
	got := CheckStyle("planted.ja.md", "# 題\n\nワーカーは終了コード 1 で終わる。\n", rules)
	want := `planted.ja.md:3: "終了コード": write 終了ステータス (docs/glossary.md, 表記の決まり)`
	if len(got) != 1 || got[0].String() != want {
		t.Errorf("a planted 終了コード: got %v, want [%s]", got, want)
	}
}

// TestStyleFindsEveryVariant plants each variant of each rule in a
// Japanese sentence, in a code span and in a console block: found in the
// sentence, naming the rule's term; not found in the code.
func TestStyleFindsEveryVariant(t *testing.T) {
	rules := glossaryRules(t)
	for _, r := range rules {
		for _, v := range r.Avoid {
			text := fmt.Sprintf("# 題\n\n前の文%s後の文。\n\n`%s` はコード。\n\n```console\n$ echo '%s'\n```\n", v, v, v)
			got := CheckStyle("planted.ja.md", text, rules)
			if !slices.ContainsFunc(got, func(f StyleFinding) bool { return f.Line == 3 && f.Got == v && f.Use == r.Use }) {
				t.Errorf("%q planted in a sentence: not reported as %q (got %v)", v, r.Use, got)
			}
			for _, f := range got {
				if f.Line != 3 {
					t.Errorf("%q in code: reported %v", v, f)
				}
			}
		}
	}
}

var wantRE = regexp.MustCompile(`<!-- want: (.*?) -->`)

// TestStyleFixture checks testdata/style.ja.md: every line marked
// <!-- want: X --> is reported with X, and nothing else is reported — not
// the code spans, console and text blocks, URLs, link targets and
// comments that hold the same variants.
func TestStyleFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/style.ja.md")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for i, l := range strings.Split(string(data), "\n") {
		if m := wantRE.FindStringSubmatch(l); m != nil {
			for _, w := range strings.Split(m[1], ", ") {
				want[fmt.Sprintf("%d: %s", i+1, w)] = true
			}
		}
	}
	if len(want) < 15 {
		t.Fatalf("only %d findings wanted; the fixture lost its lines?", len(want))
	}
	got := map[string]bool{}
	for _, f := range CheckStyle("testdata/style.ja.md", string(data), glossaryRules(t)) {
		what := f.Use
		if strings.HasPrefix(f.Got, "a ") {
			what = f.Got // a rendering problem names itself
		}
		got[fmt.Sprintf("%d: %s", f.Line, what)] = true
	}
	for w := range want {
		if !got[w] {
			t.Errorf("testdata/style.ja.md:%s: not reported", w)
		}
	}
	for g := range got {
		if !want[g] {
			t.Errorf("testdata/style.ja.md:%s: reported, but the line is fine", g)
		}
	}
}

// TestParseStyleRulesRejects: a rules section the test cannot read is an
// error, not an empty list of rules that lets everything pass.
func TestParseStyleRulesRejects(t *testing.T) {
	for name, text := range map[string]string{
		"no section":     "## Other\n\n| 用語 | 使わない表記 |\n|---|---|\n| 終了ステータス | `終了コード` |\n",
		"no variants":    "## 表記の決まり\n\n| 用語 | 使わない表記 |\n|---|---|\n| 終了ステータス | 終了コード |\n",
		"no header":      "## 表記の決まり\n\n| 終了ステータス | `終了コード` |\n",
		"an empty table": "## 表記の決まり\n\n| 用語 | 使わない表記 |\n|---|---|\n",
	} {
		if rules, err := ParseStyleRules("g.md", text); err == nil {
			t.Errorf("%s: no error, rules %v", name, rules)
		}
	}
}
