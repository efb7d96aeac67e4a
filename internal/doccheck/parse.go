package doccheck

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Ellipsis is the line (or, inside a line, the text) that stands for
// omitted output.
const Ellipsis = "…"

// Doc is one parsed Markdown file: its runnable blocks in order.
type Doc struct {
	Path   string // as given to Parse, used in messages
	Blocks []*Block
}

// Block is one ```console block and the directive before it.
type Block struct {
	Line      int // line of the opening fence (1-based)
	Dir       Directive
	Cmds      []*Cmd
	Output    []ExpLine // for "output NAME" blocks: the lines, no command
	Directive string    // the directive text as written, for listings
}

// Cmd is one `$ ` command and the output the doc shows for it.
type Cmd struct {
	Line   int
	Text   string // without the "$ "; continuation lines joined with "\n"
	Expect []ExpLine
}

// ExpLine is one expected output line and where it is in the file.
type ExpLine struct {
	Line int
	Text string
}

// Directive is what `<!-- check: ... -->` says about the block after it.
type Directive struct {
	Skip       bool
	Reason     string // for skip
	Slow       bool
	Background string // name: run the block's one command in the background
	Output     string // name: the block is further output of that background command
	Unordered  bool
	Vary       []string
	Timeout    time.Duration
}

var (
	fenceRE     = regexp.MustCompile("^([ \t]*)(```+|~~~+)[ \t]*([^ \t`]*)")
	directiveRE = regexp.MustCompile(`^[ \t]*<!--[ \t]*check:(.*?)-->[ \t]*$`)
	shellLangs  = map[string]bool{"sh": true, "bash": true, "shell": true, "zsh": true, "shell-session": true, "sh-session": true}
)

// Parse splits a Markdown file into runnable blocks. It returns an error
// for anything the contract forbids: a directive not followed by a fence,
// an unknown directive, a shell command outside a ```console block, a
// console block with output before its first command.
func Parse(path, text string) (*Doc, error) {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	doc := &Doc{Path: path}
	var pending *Directive
	pendingText, pendingLine := "", 0
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if m := directiveRE.FindStringSubmatch(line); m != nil {
			d, err := parseDirective(m[1])
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
			}
			pending, pendingText, pendingLine = &d, strings.TrimSpace(m[1]), i+1
			continue
		}
		m := fenceRE.FindStringSubmatch(line)
		if m == nil {
			if pending != nil {
				return nil, fmt.Errorf("%s:%d: a check directive must be on the line right before a ``` fence", path, pendingLine)
			}
			continue
		}
		indent, marker, lang := m[1], m[2], strings.ToLower(m[3])
		start := i
		var body []string
		closed := false
		for i++; i < len(lines); i++ {
			l := lines[i]
			t := strings.TrimSpace(l)
			if len(t) >= len(marker) && strings.Trim(t, marker[:1]) == "" {
				closed = true
				break
			}
			body = append(body, strings.TrimPrefix(l, indent))
		}
		if !closed {
			return nil, fmt.Errorf("%s:%d: unclosed code fence", path, start+1)
		}
		dir := pending
		pending = nil
		if shellLangs[lang] {
			return nil, fmt.Errorf("%s:%d: ```%s block: commands go in a ```console block with \"$ \" prompts and their real output (see internal/doccheck)", path, start+1, lang)
		}
		if lang != "console" {
			if dir != nil {
				return nil, fmt.Errorf("%s:%d: a check directive only applies to a ```console block, not ```%s", path, pendingLine, lang)
			}
			for j, l := range body {
				if strings.HasPrefix(l, "$ ") {
					return nil, fmt.Errorf("%s:%d: a \"$ \" command in a ```%s block: use ```console so that it is checked", path, start+2+j, lang)
				}
			}
			continue
		}
		b := &Block{Line: start + 1}
		if dir != nil {
			b.Dir, b.Directive = *dir, pendingText
		}
		if err := fillBlock(path, b, body, start+2); err != nil {
			return nil, err
		}
		doc.Blocks = append(doc.Blocks, b)
	}
	if pending != nil {
		return nil, fmt.Errorf("%s:%d: a check directive must be on the line right before a ``` fence", path, pendingLine)
	}
	return doc, nil
}

func fillBlock(path string, b *Block, body []string, first int) error {
	var cur *Cmd
	for j := 0; j < len(body); j++ {
		l := body[j]
		ln := first + j
		if strings.HasPrefix(l, "$ ") || l == "$" {
			text := strings.TrimPrefix(strings.TrimPrefix(l, "$"), " ")
			for strings.HasSuffix(text, "\\") && j+1 < len(body) {
				j++
				text += "\n" + body[j]
			}
			cur = &Cmd{Line: ln, Text: text}
			b.Cmds = append(b.Cmds, cur)
			continue
		}
		if cur == nil {
			b.Output = append(b.Output, ExpLine{ln, l})
			continue
		}
		cur.Expect = append(cur.Expect, ExpLine{ln, l})
	}
	for _, c := range b.Cmds {
		c.Expect = trimBlank(c.Expect)
	}
	b.Output = trimBlank(b.Output)
	d := b.Dir
	switch {
	case d.Skip:
		return nil
	case d.Output != "":
		if len(b.Cmds) > 0 {
			return fmt.Errorf("%s:%d: an \"output\" block shows output only, no \"$ \" commands", path, b.Line)
		}
		if len(b.Output) == 0 {
			return fmt.Errorf("%s:%d: an \"output\" block is empty", path, b.Line)
		}
	case len(b.Output) > 0:
		return fmt.Errorf("%s:%d: output before the first \"$ \" command: mark the block <!-- check: output NAME --> (a background command's further output) or make it ```text", path, first+0)
	case len(b.Cmds) == 0:
		return fmt.Errorf("%s:%d: a ```console block without a \"$ \" command", path, b.Line)
	case d.Background != "" && len(b.Cmds) != 1:
		return fmt.Errorf("%s:%d: a \"background\" block has exactly one command", path, b.Line)
	}
	return nil
}

func trimBlank(ls []ExpLine) []ExpLine {
	for len(ls) > 0 && strings.TrimSpace(ls[len(ls)-1].Text) == "" {
		ls = ls[:len(ls)-1]
	}
	return ls
}

var keywords = map[string]bool{"skip": true, "slow": true, "background": true, "output": true, "unordered": true, "vary": true, "timeout": true}

func parseDirective(s string) (Directive, error) {
	toks, err := splitQuoted(s)
	if err != nil {
		return Directive{}, err
	}
	var d Directive
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		next := func() (string, bool) {
			if i+1 < len(toks) && !keywords[toks[i+1]] {
				i++
				return toks[i], true
			}
			return "", false
		}
		switch t {
		case "skip":
			r, ok := next()
			if !ok || strings.TrimSpace(r) == "" {
				return d, fmt.Errorf(`check: skip needs a reason: <!-- check: skip "why" -->`)
			}
			d.Skip, d.Reason = true, r
		case "slow":
			d.Slow = true
		case "background":
			d.Background = "server"
			if n, ok := next(); ok {
				d.Background = n
			}
		case "output":
			d.Output = "server"
			if n, ok := next(); ok {
				d.Output = n
			}
		case "unordered":
			d.Unordered = true
		case "vary":
			for {
				n, ok := next()
				if !ok {
					break
				}
				for _, f := range strings.Split(n, ",") {
					if f != "" {
						d.Vary = append(d.Vary, f)
					}
				}
			}
			if len(d.Vary) == 0 {
				return d, fmt.Errorf("check: vary needs the labels of the numbers that vary, e.g. vary requests ok failed")
			}
		case "timeout":
			v, ok := next()
			if !ok {
				return d, fmt.Errorf("check: timeout needs a duration, e.g. timeout 3m")
			}
			dur, err := time.ParseDuration(v)
			if err != nil {
				return d, fmt.Errorf("check: timeout: %w", err)
			}
			d.Timeout = dur
		default:
			return d, fmt.Errorf("check: unknown directive %q (known: skip, slow, background, output, unordered, vary, timeout)", t)
		}
	}
	if d.Background != "" && d.Output != "" {
		return d, fmt.Errorf("check: a block is either background or output, not both")
	}
	return d, nil
}

func splitQuoted(s string) ([]string, error) {
	var toks []string
	s = strings.TrimSpace(s)
	for s != "" {
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("check: unclosed quote in %q", s)
			}
			toks = append(toks, s[1:1+end])
			s = strings.TrimSpace(s[2+end:])
			continue
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			toks = append(toks, s)
			break
		}
		toks = append(toks, s[:end])
		s = strings.TrimSpace(s[end:])
	}
	return toks, nil
}
