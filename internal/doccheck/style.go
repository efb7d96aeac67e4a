package doccheck

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The Japanese edition's words and marks are written one way, and
// docs/glossary.md is where that way is kept: its section "表記の決まり"
// has a table of words (the glossary's term, then the variants not to
// use) and a table of marks (the mark to use, then the ones not to use).
// CheckStyle reads a Japanese Markdown file and reports every variant it
// finds in the prose, so terms cannot drift between files.
//
// Only prose is checked: fenced blocks (console transcripts, code, text),
// code spans, HTML comments, URLs and link targets are not, since they
// show what a program prints or what one types. Mermaid diagrams are
// prose to a reader, so their words are checked (not their marks: the
// diagram's syntax is ASCII).
//
// Two more rules are about how the Markdown renders, not about a word:
// a line break between two Japanese characters renders as a stray space
// (join the lines), and so does a space after 。 inside a line. A code
// span must end on the line it starts on, or it is hard to copy.

// StyleRule is one row of the glossary's 表記の決まり tables.
type StyleRule struct {
	Use   string   // the glossary's term or mark, as the Japanese files write it
	Avoid []string // the variants not to write
	Mark  bool     // a mark (bracket, punctuation), not a word
	Line  int      // the row's line in the glossary
}

// StyleFinding is one variant found in a Japanese file.
type StyleFinding struct {
	Path string
	Line int
	Got  string // the variant, or what is wrong
	Use  string // the glossary's term or mark, or how to fix it
}

func (f StyleFinding) String() string {
	return fmt.Sprintf("%s:%d: %q: write %s (docs/glossary.md, 表記の決まり)", f.Path, f.Line, f.Got, f.Use)
}

// styleSection is the heading of the glossary's section with the rules.
const styleSection = "表記の決まり"

var codeSpanRE = regexp.MustCompile("`([^`]+)`")

// ParseStyleRules reads the rules from the glossary: every table row in
// the section whose heading contains 表記の決まり. In a table whose header
// starts with 用語 the rows are words; with 記号, marks. Column 1 is the
// term or mark to use (a mark in a code span), column 2 the variants not
// to use, each in its own code span.
func ParseStyleRules(path, glossary string) ([]StyleRule, error) {
	var rules []StyleRule
	in, table := false, ""
	for i, line := range strings.Split(glossary, "\n") {
		if strings.HasPrefix(line, "## ") {
			in = strings.Contains(line, styleSection)
			table = ""
			continue
		}
		if !in || !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		if len(cells) < 2 {
			return nil, fmt.Errorf("%s:%d: a %s row needs two columns: the term, the variants", path, i+1, styleSection)
		}
		switch {
		case strings.HasPrefix(cells[0], "用語"), strings.HasPrefix(cells[0], "記号"):
			table = cells[0]
			continue
		case strings.Trim(cells[0], "-: ") == "":
			continue
		case table == "":
			return nil, fmt.Errorf("%s:%d: a %s row before a table header starting with 用語 or 記号", path, i+1, styleSection)
		}
		r := StyleRule{Use: cells[0], Mark: strings.HasPrefix(table, "記号"), Line: i + 1}
		if ms := codeSpanRE.FindAllStringSubmatch(cells[0], -1); ms != nil {
			r.Use = ""
			for _, m := range ms {
				r.Use += m[1] // `（` `）` is （）
			}
		}
		for _, m := range codeSpanRE.FindAllStringSubmatch(cells[1], -1) {
			r.Avoid = append(r.Avoid, m[1])
		}
		if r.Use == "" || len(r.Avoid) == 0 {
			return nil, fmt.Errorf("%s:%d: a %s row needs the term and at least one variant in a code span", path, i+1, styleSection)
		}
		rules = append(rules, r)
	}
	if len(rules) == 0 {
		return nil, fmt.Errorf("%s: no rules in a section %q", path, styleSection)
	}
	return rules, nil
}

// proseLine is one line of a file as a reader reads it: markup, code and
// URLs taken out.
type proseLine struct {
	n       int
	raw     string // the line as written
	text    string
	diagram bool // inside a ```mermaid block: words only
}

var (
	htmlTagRE  = regexp.MustCompile(`</?[A-Za-z][^>]*>`)
	autolinkRE = regexp.MustCompile(`<https?://[^>]*>`)
	urlRE      = regexp.MustCompile(`https?://[!-=?-~]+`) // ASCII but >: the text after it may be Japanese
	linkDefRE  = regexp.MustCompile(`^\s*\[[^\]]+\]:\s`)
	listMarkRE = regexp.MustCompile(`^(\s*)[*+-] `)
)

// codeSpan is what a code span becomes in prose: one character that is no
// word and no mark, so that neither side joins the other.
const codeSpan = "\uFFFC"

// proseOf splits a Markdown file into prose lines and reports code spans
// that do not end on their line.
func proseOf(path, text string) ([]proseLine, []StyleFinding) {
	var out []proseLine
	var found []StyleFinding
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	fence, diagram := "", false
	comment, indented := false, false
	open := 0 // the backticks of a code span still open at the end of a line
	for i, line := range lines {
		n := i + 1
		t := strings.TrimSpace(line)
		// An indented code block: four spaces after a blank line.
		if fence == "" && !comment && (strings.HasPrefix(line, "    ") || strings.HasPrefix(line, "\t")) && t != "" &&
			(indented || i == 0 || strings.TrimSpace(lines[i-1]) == "") {
			indented = true
			continue
		}
		if t != "" {
			indented = false
		}
		if fence != "" {
			if strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]) == "" {
				fence, diagram = "", false
				continue
			}
			if diagram {
				out = append(out, proseLine{n, line, line, true})
			}
			continue
		}
		if !comment {
			if m := fenceRE.FindStringSubmatch(line); m != nil {
				fence, diagram = m[2], strings.EqualFold(m[3], "mermaid")
				continue
			}
		}
		// HTML comments, also over several lines.
		raw := line
		var b strings.Builder
		rest := line
		for rest != "" {
			if comment {
				end := strings.Index(rest, "-->")
				if end < 0 {
					rest = ""
					break
				}
				rest, comment = rest[end+3:], false
				continue
			}
			start := strings.Index(rest, "<!--")
			if start < 0 {
				b.WriteString(rest)
				break
			}
			b.WriteString(rest[:start])
			rest, comment = rest[start+4:], true
		}
		line = b.String()
		if linkDefRE.MatchString(line) {
			continue
		}
		if t == "" {
			open = 0 // a paragraph ends, and a code span left open with it
		}
		if open > 0 { // the rest of a code span from the line above
			end := closingTicks(line, open)
			if end < 0 {
				continue
			}
			line, open = codeSpan+line[end+open:], 0
		}
		line, open = stripCodeSpans(line)
		if open > 0 {
			line += codeSpan
			found = append(found, StyleFinding{path, n, "a code span broken across lines", "the whole code span on one line (a reader copies it)"})
		}
		line = autolinkRE.ReplaceAllString(line, codeSpan)
		line = stripLinkTargets(line)
		line = urlRE.ReplaceAllString(line, codeSpan)
		line = htmlTagRE.ReplaceAllString(line, " ")
		line = listMarkRE.ReplaceAllString(line, "$1")
		out = append(out, proseLine{n, raw, line, false})
	}
	return out, found
}

// stripCodeSpans replaces each code span of the line with codeSpan, and
// returns the number of backticks of a span left open at the end of the
// line (it goes on on the next line, as CommonMark allows, but a reader
// cannot copy it whole), or 0.
func stripCodeSpans(line string) (string, int) {
	var b strings.Builder
	for {
		start := strings.IndexByte(line, '`')
		if start < 0 {
			b.WriteString(line)
			return b.String(), 0
		}
		ticks := len(line[start:]) - len(strings.TrimLeft(line[start:], "`"))
		b.WriteString(line[:start])
		rest := line[start+ticks:]
		end := closingTicks(rest, ticks)
		if end < 0 {
			return b.String(), ticks
		}
		b.WriteString(codeSpan)
		line = rest[end+ticks:]
	}
}

// closingTicks is the index in s of a run of exactly n backticks, or -1.
func closingTicks(s string, n int) int {
	for i := 0; i < len(s); {
		if s[i] != '`' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] == '`' {
			j++
		}
		if j-i == n {
			return i
		}
		i = j
	}
	return -1
}

// stripLinkTargets turns [text](target) into text: the target is a path
// or a URL (with its own parentheses, brackets and anchors), not prose.
func stripLinkTargets(line string) string {
	var b strings.Builder
	for {
		i := strings.Index(line, "](")
		if i < 0 {
			b.WriteString(line)
			return b.String()
		}
		b.WriteString(line[:i])
		depth, j := 0, i+2
		for ; j < len(line); j++ {
			if line[j] == '(' {
				depth++
			} else if line[j] == ')' {
				if depth == 0 {
					break
				}
				depth--
			}
		}
		if j >= len(line) {
			b.WriteString(line[i:])
			return b.String()
		}
		line = line[j+1:]
	}
}

// stripBrackets drops the [ and ] of links and images, so that [text] is
// text; image alt text stays prose.
func stripBrackets(s string) string {
	return strings.NewReplacer("![", "", "[", "", "]", "").Replace(s)
}

// japanese reports whether r is a Japanese character: kana, kanji, or a
// full-width mark (、。「」（）！？ …).
func japanese(r rune) bool {
	return unicode.In(r, unicode.Hiragana, unicode.Katakana, unicode.Han) ||
		r == 'ー' || (r >= 0x3000 && r <= 0x303f) || (r >= 0xff01 && r <= 0xff60)
}

// CheckStyle reports every variant of rules in the prose of a Japanese
// file, and every line break or space that renders as a stray space.
func CheckStyle(path, text string, rules []StyleRule) []StyleFinding {
	prose, found := proseOf(path, text)
	for k, pl := range prose {
		s := stripBrackets(strings.ReplaceAll(pl.text, "**", ""))
		for _, r := range rules {
			if r.Mark && pl.diagram {
				continue
			}
			for _, v := range r.Avoid {
				if containsWord(s, v) {
					found = append(found, StyleFinding{path, pl.n, v, r.Use})
					break // one finding per rule and line: ( and ) are one
				}
			}
		}
		if pl.diagram {
			continue
		}
		// "**予想。** 本文" is a label and its text: that space is meant.
		if i := strings.Index(pl.text, "。 "); i >= 0 && strings.TrimSpace(pl.text[i+len("。 "):]) != "" {
			found = append(found, StyleFinding{path, pl.n, "a space after 。", "。 and the next sentence with no space between"})
		}
		// A soft line break: this line and the next are one paragraph.
		if k+1 < len(prose) && prose[k+1].n == pl.n+1 && !prose[k+1].diagram &&
			!oneLineBlock(pl.raw) && !startsBlock(prose[k+1].raw) && !hardBreak(pl.raw) {
			last, _ := utf8.DecodeLastRuneInString(strings.TrimRight(s, " \t"))
			next := stripBrackets(strings.ReplaceAll(strings.TrimLeft(prose[k+1].text, " \t"), "**", ""))
			first, _ := utf8.DecodeRuneInString(next)
			switch {
			case japanese(last) && japanese(first):
				found = append(found, StyleFinding{path, pl.n, "a line break between two Japanese characters", "the two lines joined (a soft break renders as a space)"})
			case fullWidthMark(last) && next != "":
				found = append(found, StyleFinding{path, pl.n, "a line break after " + string(last), "the two lines joined (a soft break renders as a space)"})
			}
		}
	}
	return found
}

// fullWidthMark reports whether r is Japanese punctuation (。、」） …),
// after which a space is never written.
func fullWidthMark(r rune) bool {
	return (r >= 0x3000 && r <= 0x303f) || (r >= 0xff01 && r <= 0xff0f) || (r >= 0xff1a && r <= 0xff20) || (r >= 0xff3b && r <= 0xff40) || (r >= 0xff5b && r <= 0xff60)
}

// hardBreak reports whether a line ends in a hard line break (two spaces
// or a backslash): the next line starts a new line, with no space.
func hardBreak(line string) bool {
	return strings.HasSuffix(line, "  ") || strings.HasSuffix(line, "\\")
}

// containsWord reports whether s contains v, but not as the start of a
// longer katakana word with a long vowel: サーバ is not found in サーバー.
func containsWord(s, v string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], v)
		if j < 0 {
			return false
		}
		end := i + j + len(v)
		if next, _ := utf8.DecodeRuneInString(s[end:]); next != 'ー' || strings.HasSuffix(v, "ー") {
			return true
		}
		i = end
	}
}

// startsBlock reports whether a line starts a new Markdown block (list
// item, heading, quote, table), so that the break before it is no soft
// break inside a paragraph.
func startsBlock(line string) bool {
	return blockStartRE.MatchString(line)
}

// oneLineBlock reports whether a line is a block of its own (a heading,
// a table row), which no soft break continues.
func oneLineBlock(line string) bool {
	t := strings.TrimSpace(line)
	return strings.HasPrefix(t, "#") || strings.HasPrefix(t, "|")
}

var blockStartRE = regexp.MustCompile(`^\s*($|[#>|]|([*+-]|\d+[.)])\s)`)
