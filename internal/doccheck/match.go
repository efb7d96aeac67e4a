package doccheck

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// A rule finds a varying value in an expected line. Every capture group
// (or, without groups, the whole match) is a span of class class.
type rule struct {
	re    *regexp.Regexp
	class string
}

// Classes. Bound classes (pid, port, inode, id) must map one doc value to
// one real value throughout a file, both ways; the other classes match any
// value of their shape.
const (
	classPID   = "pid"
	classPort  = "port"
	classInode = "inode"
	classID    = "id"
	classTime  = "time"
	classDur   = "duration"
	classNum   = "number"
	classHex   = "hex"
	classWord  = "word"
	classList  = "list"
)

var bound = map[string]bool{classPID: true, classPort: true, classInode: true, classID: true}

// shape is what a span of a class matches in the real output.
var shape = map[string]string{
	classPID:   `(\d+)`,
	classPort:  `(\d+)`,
	classInode: `(\d+)`,
	classID:    `(\d+)`,
	classTime:  `(?:\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?|[A-Z][a-z]{2},? +\d{1,2} +(?:[A-Z][a-z]{2} +\d{4} +)?\d{2}:\d{2}(?::\d{2})?(?: GMT)?|\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?: ?[+-]\d{4}|Z)?)`,
	classDur:   `(?:\d+h)?(?:\d+m)?\d+(?:\.\d+)?(?:ns|µs|us|ms|s|m|h)`,
	classNum:   `\d+(?:\.\d+)?`,
	classHex:   `[0-9a-f]+`,
	classWord:  `\S+`,
	classList:  `(?:\S+=\d+ ?)+`,
}

var rules = []rule{
	// times first, so that their digits are not taken for anything else
	{regexp.MustCompile(`\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?`), classTime},
	{regexp.MustCompile(`\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?: ?[+-]\d{4}|Z)?`), classTime},
	{regexp.MustCompile(`(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT`), classTime},
	{regexp.MustCompile(`\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d{1,2} +(?:\d{2}:\d{2}|\d{4})\b`), classTime},
	// ls -l: owner and group differ between machines
	{regexp.MustCompile(`^[-bcdlps][-rwxsStT]{9}[.+@]? +\d+ +(\S+) +(\S+) `), classWord},
	// load generator: "served by pid: 123=45 678=90"
	{regexp.MustCompile(`^\s*served by (?:pid|generation|version): (.*)$`), classList},
	// process IDs
	{regexp.MustCompile(`(?i)pid[=: ] ?(\d+)`), classPID},
	{regexp.MustCompile(`(?i)workers?[: ](\d+)`), classPID},
	{regexp.MustCompile(`/proc/(\d+)/`), classPID},
	{regexp.MustCompile(`\bkill(?: -[A-Z0-9]+)? (\d+)\b`), classPID},
	{regexp.MustCompile(`^ *(\d+) +(\d+) `), classPID},   // ps -o pid,ppid
	{regexp.MustCompile(`^ *(\d+) +[A-Z/]`), classPID},   // ps -o pid,...
	{regexp.MustCompile(`^(?:\d+:(\d+) ?)+$`), classPID}, // status file GEN:PID
	{regexp.MustCompile(`^\d+:(\d+) \d+:(\d+)$`), classPID},
	{regexp.MustCompile(`^bash: (?:line \d+: )? *(\d+) `), classPID},
	{regexp.MustCompile(`^data: \d+ (\d+)\b`), classPID}, // the example's event stream: data: GEN PID VERSION
	// ports
	{regexp.MustCompile(`(?:127\.0\.0\.1|\[::1\]|0\.0\.0\.0|localhost|\[::\]|\*):(\d+)`), classPort},
	{regexp.MustCompile(`127\.0\.0\.1_(\d+)`), classPort},
	{regexp.MustCompile(`\bport (\d+)`), classPort},
	// kernel object numbers
	{regexp.MustCompile(`(?:socket|pipe|anon_inode):\[(\d+)\]`), classInode},
	{regexp.MustCompile(`\bino:(\d+)`), classInode},
	{regexp.MustCompile(`\bsk:([0-9a-f]+)`), classHex},
	// temporary names
	{regexp.MustCompile(`go-build(\d+)`), classID},
	{regexp.MustCompile(`start_server-(?:demo-)?(\d+)`), classID},
	// durations and timings
	{regexp.MustCompile(`\b(?:\d+h)?(?:\d+m)?\d+(?:\.\d+)?(?:ns|µs|us|ms|s)\b`), classDur},
	{regexp.MustCompile(`\b(?:\d+h)?(?:\d+m)?\d+(?:\.\d+)?µs`), classDur},
	{regexp.MustCompile(`after (\d+) ms:`), classNum},
	{regexp.MustCompile(`^Content-Length: (\d+)$`), classNum}, // grows with the PID in the body    // curl's connect time
	{regexp.MustCompile(`\bline (\d+):`), classNum},           // bash's line numbers
	{regexp.MustCompile(` (\d+(?:\.\d+)?)s$`), classDur},      // curl -w %{time_total}
}

// anyNumberRE is what "vary *" makes vary: every number of the block.
var anyNumberRE = regexp.MustCompile(`\d+(?:\.\d+)?`)

type span struct {
	start, end int
	class      string
}

// compiled is an expected line turned into a regexp of the real line.
type compiled struct {
	re      *regexp.Regexp
	classes []string // one per capture group
	docVals []string // the doc's value per capture group
}

func compile(exp string, vary []string) (*compiled, error) {
	var spans []span
	add := func(re *regexp.Regexp, class string) {
		for _, m := range re.FindAllStringSubmatchIndex(exp, -1) {
			if len(m) == 2 {
				spans = append(spans, span{m[0], m[1], class})
				continue
			}
			for g := 2; g < len(m); g += 2 {
				if m[g] >= 0 {
					spans = append(spans, span{m[g], m[g+1], class})
				}
			}
		}
	}
	for _, r := range rules {
		add(r.re, r.class)
	}
	for _, v := range vary {
		if v == "*" {
			add(anyNumberRE, classNum)
			continue
		}
		add(regexp.MustCompile(`(?:^|[^\w])`+regexp.QuoteMeta(v)+`(?:[=:]? ?|: )(\d+(?:\.\d+)?)`), classNum)
	}
	// keep the earliest span; drop those overlapping it
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	var keep []span
	for _, s := range spans {
		if len(keep) > 0 && s.start < keep[len(keep)-1].end {
			continue
		}
		keep = append(keep, s)
	}
	var b strings.Builder
	c := &compiled{}
	b.WriteString("^")
	if exp != "" && exp[0] >= '0' && exp[0] <= '9' {
		b.WriteString("[ \t]*") // right-aligned numbers (ps) move when their width changes
	}
	pos := 0
	for _, s := range keep {
		b.WriteString(literal(exp[pos:s.start], pos == 0))
		sh := shape[s.class]
		if bound[s.class] {
			c.classes = append(c.classes, s.class)
			c.docVals = append(c.docVals, exp[s.start:s.end])
		} else {
			sh = "(?:" + sh + ")"
		}
		b.WriteString(sh)
		pos = s.end
	}
	b.WriteString(literal(exp[pos:], pos == 0))
	b.WriteString("[ \t]*$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("internal: %q: %w", b.String(), err)
	}
	c.re = re
	return c, nil
}

// literal quotes text: runs of blanks match one or more blanks (columns
// shift when numbers change width; at the start of a line, zero or more),
// and an inline … matches any text.
func literal(s string, atStart bool) string {
	var b strings.Builder
	parts := strings.Split(s, Ellipsis)
	for i, p := range parts {
		if i > 0 {
			b.WriteString(".*?")
		}
		for j := 0; j < len(p); {
			if p[j] == ' ' || p[j] == '\t' {
				k := j
				for k < len(p) && (p[k] == ' ' || p[k] == '\t') {
					k++
				}
				if atStart && j == 0 && i == 0 {
					b.WriteString("[ \t]*")
				} else {
					b.WriteString("[ \t]+")
				}
				j = k
				continue
			}
			k := j
			for k < len(p) && p[k] != ' ' && p[k] != '\t' {
				k++
			}
			b.WriteString(regexp.QuoteMeta(p[j:k]))
			j = k
		}
	}
	return b.String()
}

// Bindings map the numbers a doc shows (PIDs, ports, inodes, temporary
// names) to the numbers of this run, one to one within a class.
type Bindings struct {
	fwd map[string]string // class+"\x00"+doc -> real
	rev map[string]string // class+"\x00"+real -> doc
}

func newBindings() *Bindings {
	return &Bindings{fwd: map[string]string{}, rev: map[string]string{}}
}

func (b *Bindings) clone() *Bindings {
	n := newBindings()
	for k, v := range b.fwd {
		n.fwd[k] = v
	}
	for k, v := range b.rev {
		n.rev[k] = v
	}
	return n
}

// bind records doc -> real in class, or reports a contradiction.
func (b *Bindings) bind(class, doc, real string) error {
	if doc == real {
		// the same number (a program's fixed default such as port 8080,
		// which commands run elsewhere): nothing to learn
		return nil
	}
	if r, ok := b.fwd[class+"\x00"+doc]; ok {
		if r != real {
			return fmt.Errorf("%s %s is %s in this run, but an earlier line had it as %s", class, doc, real, r)
		}
		return nil
	}
	if d, ok := b.rev[class+"\x00"+real]; ok && d != doc {
		return fmt.Errorf("%s %s of this run was %s earlier in the doc, not %s", class, real, d, doc)
	}
	b.fwd[class+"\x00"+doc] = real
	b.rev[class+"\x00"+real] = doc
	return nil
}

// lookup returns the real value of a number the doc shows, in any class.
func (b *Bindings) lookup(doc string) (string, bool) {
	for _, class := range []string{classPID, classPort, classInode, classID} {
		if r, ok := b.fwd[class+"\x00"+doc]; ok {
			return r, true
		}
	}
	return "", false
}

var numRE = regexp.MustCompile(`\d+`)

// Substitute replaces every number of a command that an earlier output
// bound (a PID, a port, an inode) by its value in this run.
func (b *Bindings) Substitute(cmd string) string {
	return numRE.ReplaceAllStringFunc(cmd, func(n string) string {
		if r, ok := b.lookup(n); ok {
			return r
		}
		return n
	})
}

// matchLine matches one real line; on success it records the bindings.
func matchLine(c *compiled, real string, b *Bindings) error {
	m := c.re.FindStringSubmatch(real)
	if m == nil {
		return errNoMatch
	}
	for i, class := range c.classes {
		if err := b.bind(class, c.docVals[i], m[i+1]); err != nil {
			return err
		}
	}
	return nil
}

var errNoMatch = fmt.Errorf("differs")

// Mismatch says where an expected sequence stopped matching.
type Mismatch struct {
	Exp    ExpLine // the first expected line that did not match (Line 0: real output had extra lines)
	Got    string  // the real line there ("" and Missing: real output ended)
	Reason string
	AtEnd  bool // real output ended before this expected line
	Extra  bool // expected lines all matched, real output has more
}

type seqMatcher struct {
	exp       []*compiled
	lines     []ExpLine
	act       []string
	anchorEnd bool
	best      *Mismatch
	bestIdx   int
}

// matchSeq matches real lines against expected lines with … lines. The
// start is anchored; the end is anchored when anchorEnd. It returns the
// number of real lines consumed and the new bindings.
func matchSeq(lines []ExpLine, act []string, b *Bindings, anchorEnd bool, vary []string) (int, *Bindings, *Mismatch, error) {
	sm := &seqMatcher{lines: lines, act: act, anchorEnd: anchorEnd, bestIdx: -1}
	for _, l := range lines {
		if strings.TrimSpace(l.Text) == Ellipsis {
			sm.exp = append(sm.exp, nil)
			continue
		}
		c, err := compile(l.Text, vary)
		if err != nil {
			return 0, nil, nil, err
		}
		sm.exp = append(sm.exp, c)
	}
	end, nb, ok := sm.m(0, 0, b, 0)
	if ok {
		return end, nb, nil, nil
	}
	return 0, nil, sm.best, nil
}

func (sm *seqMatcher) fail(ei, ai int, mm Mismatch) {
	if ei > sm.bestIdx {
		sm.bestIdx = ei
		sm.best = &mm
	}
}

func (sm *seqMatcher) m(ei, ai int, b *Bindings, depth int) (int, *Bindings, bool) {
	if depth > 10000 {
		return 0, nil, false
	}
	if ei == len(sm.exp) {
		if sm.anchorEnd && ai != len(sm.act) {
			sm.fail(ei, ai, Mismatch{Got: sm.act[ai], Extra: true})
			return 0, nil, false
		}
		return ai, b, true
	}
	if sm.exp[ei] == nil { // …
		if ei == len(sm.exp)-1 {
			if sm.anchorEnd {
				return len(sm.act), b, true
			}
			return ai, b, true
		}
		for k := ai; k <= len(sm.act); k++ {
			if end, nb, ok := sm.m(ei+1, k, b, depth+1); ok {
				return end, nb, true
			}
		}
		return 0, nil, false
	}
	if ai >= len(sm.act) {
		sm.fail(ei, ai, Mismatch{Exp: sm.lines[ei], AtEnd: true})
		return 0, nil, false
	}
	nb := b.clone()
	if err := matchLine(sm.exp[ei], sm.act[ai], nb); err != nil {
		mm := Mismatch{Exp: sm.lines[ei], Got: sm.act[ai]}
		if err != errNoMatch {
			mm.Reason = err.Error()
		}
		sm.fail(ei, ai, mm)
		return 0, nil, false
	}
	return sm.m(ei+1, ai+1, nb, depth+1)
}

// matchUnordered matches the next len(lines) real lines against the
// expected lines in any order. With a … line in the block, the expected
// lines may be spread among other lines: each must match a distinct real
// line, and the match consumes up to the last line matched.
func matchUnordered(lines []ExpLine, act []string, b *Bindings, vary []string) (int, *Bindings, *Mismatch, error) {
	var cs []*compiled
	var exp []ExpLine
	extra := false
	for _, l := range lines {
		if strings.TrimSpace(l.Text) == Ellipsis {
			extra = true
			continue
		}
		c, err := compile(l.Text, vary)
		if err != nil {
			return 0, nil, nil, err
		}
		cs = append(cs, c)
		exp = append(exp, l)
	}
	if !extra {
		if len(act) < len(exp) {
			return 0, nil, &Mismatch{Exp: exp[len(act)], AtEnd: true}, nil
		}
		act = act[:len(exp)]
	}
	used := make([]bool, len(act))
	var best *Mismatch
	bestN := -1
	var try func(i int, b *Bindings) (*Bindings, bool)
	try = func(i int, b *Bindings) (*Bindings, bool) {
		if i == len(cs) {
			return b, true
		}
		for j := range act {
			if used[j] {
				continue
			}
			nb := b.clone()
			if matchLine(cs[i], act[j], nb) != nil {
				continue
			}
			used[j] = true
			if r, ok := try(i+1, nb); ok {
				return r, true
			}
			used[j] = false
		}
		if i > bestN {
			bestN = i
			best = &Mismatch{Exp: exp[i], AtEnd: extra, Reason: "no line of the real output (in any order) matches it"}
		}
		return nil, false
	}
	nb, ok := try(0, b)
	if !ok {
		return 0, nil, best, nil
	}
	n := 0
	for j, u := range used {
		if u {
			n = j + 1
		}
	}
	if !extra {
		n = len(exp)
	}
	return n, nb, nil, nil
}
