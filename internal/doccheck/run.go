package doccheck

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options for running a doc.
type Options struct {
	RepoRoot   string        // the repository to copy
	Slow       bool          // also run blocks marked slow
	CmdTimeout time.Duration // per command and per wait for background output; default 60 s
	Log        func(format string, args ...any)
}

// Result of running one doc.
type Result struct {
	NotRun []string // "file:line: why" for every block not run (skip, or slow without Options.Slow)
	Ran    int
}

// Failure is a difference between a doc and what its commands printed.
type Failure struct {
	Path string
	Line int
	Msg  string
}

func (f *Failure) Error() string { return fmt.Sprintf("%s:%d: %s", f.Path, f.Line, f.Msg) }

// Run runs every block of doc in a fresh scratch copy of the repository
// and returns the first difference as a *Failure.
func Run(doc *Doc, opt Options) (*Result, error) {
	if opt.CmdTimeout == 0 {
		opt.CmdTimeout = 60 * time.Second
	}
	res := &Result{}
	var todo []*Block
	for _, b := range doc.Blocks {
		switch {
		case b.Dir.Skip:
			res.NotRun = append(res.NotRun, fmt.Sprintf("%s:%d: skipped: %s", doc.Path, b.Line, b.Dir.Reason))
		case b.Heavy() && !opt.Slow:
			res.NotRun = append(res.NotRun, fmt.Sprintf("%s:%d: heavy, not run (DOCCHECK_SLOW=1 runs it; CI does)", doc.Path, b.Line))
		default:
			todo = append(todo, b)
		}
	}
	if len(todo) == 0 {
		return res, nil
	}
	s, err := newSession(opt)
	if err != nil {
		return res, err
	}
	defer s.close()
	for _, b := range todo {
		if err := s.runBlock(doc.Path, b); err != nil {
			return res, err
		}
		res.Ran++
	}
	return res, nil
}

// heavyRE matches the commands that build and load a stage or run a test
// suite: seconds to minutes each.
var heavyRE = regexp.MustCompile(`^(?:\S+=\S+ )*(?:scripts/loadtest\.sh|scripts/compare-perl\.sh|go test)\b`)

// Heavy reports whether the block runs only with Options.Slow: marked
// slow, or a command that loads a stage (scripts/loadtest.sh,
// scripts/compare-perl.sh) or runs tests (go test).
func (b *Block) Heavy() bool {
	if b.Dir.Slow {
		return true
	}
	for _, c := range b.Cmds {
		if heavyRE.MatchString(c.Text) {
			return true
		}
	}
	return false
}

type session struct {
	opt     Options
	scratch string
	repo    string
	tmp     string
	sh      *exec.Cmd
	stdin   io.WriteCloser
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
	doneC   chan struct{}
	bind    *Bindings
	bgs     map[string]*background
	seq     int
}

type background struct {
	file   string
	cursor int // lines already matched
	line   int // doc line of its command
}

func newSession(opt Options) (*session, error) {
	scratch, err := os.MkdirTemp("", "doccheck")
	if err != nil {
		return nil, err
	}
	s := &session{opt: opt, scratch: scratch, repo: filepath.Join(scratch, "repo"), tmp: filepath.Join(scratch, "tmp"),
		changed: make(chan struct{}, 1), doneC: make(chan struct{}), bind: newBindings(), bgs: map[string]*background{}}
	if err := os.MkdirAll(s.tmp, 0o755); err != nil {
		s.removeScratch()
		return nil, err
	}
	if err := copyTree(opt.RepoRoot, s.repo); err != nil {
		s.removeScratch()
		return nil, fmt.Errorf("copy the repository: %w", err)
	}
	// Docs that use the fixed demo port 8080 run on a free port instead:
	// commands get it in place of 8080, and so does start_server's demo.
	port8080, err := freePort()
	if err != nil {
		s.removeScratch()
		return nil, err
	}
	_ = s.bind.bind(classPort, "8080", port8080)
	r, w, err := os.Pipe()
	if err != nil {
		s.removeScratch()
		return nil, err
	}
	sh := exec.Command("bash", "--noprofile", "--norc")
	sh.Dir = s.repo
	sh.Env = append(os.Environ(), "TMPDIR="+s.tmp, "LC_ALL=C", "LANG=C", "DOCCHECK_INSIDE=1", "PS1=", "TERM=dumb",
		"START_SERVER_DEMO_ADDR=127.0.0.1:"+port8080)
	sh.Stdout, sh.Stderr = w, w
	sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := sh.StdinPipe()
	if err != nil {
		r.Close()
		w.Close()
		s.removeScratch()
		return nil, err
	}
	if err := sh.Start(); err != nil {
		r.Close()
		w.Close()
		s.removeScratch()
		return nil, err
	}
	w.Close()
	s.sh, s.stdin = sh, stdin
	go func() {
		defer close(s.doneC)
		b := make([]byte, 32<<10)
		for {
			n, err := r.Read(b)
			if n > 0 {
				s.mu.Lock()
				s.buf.Write(b[:n])
				s.mu.Unlock()
				select {
				case s.changed <- struct{}{}:
				default:
				}
			}
			if err != nil {
				r.Close()
				return
			}
		}
	}()
	return s, nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}

// close ends every process of the session (the shell's process group)
// and removes the scratch directory.
func (s *session) close() {
	s.stdin.Close()
	pgid := s.sh.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	_ = s.sh.Wait()
	select {
	case <-s.doneC:
	case <-time.After(5 * time.Second):
	}
	s.removeScratch()
}

func (s *session) removeScratch() {
	// Go's module cache files are read-only; make them writable first.
	_ = filepath.WalkDir(s.scratch, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	_ = os.RemoveAll(s.scratch)
}

var tmpRE = regexp.MustCompile(`(^|[\s'"=:(,<>|;&])/tmp(/|\b)`)

// prepare turns a doc command into the command run: numbers bound by
// earlier output replaced, /tmp redirected into the scratch directory.
func (s *session) prepare(cmd string) string {
	cmd = s.bind.Substitute(cmd)
	return tmpRE.ReplaceAllString(cmd, "${1}"+s.tmp+"${2}")
}

// clean turns real output back into doc terms.
func (s *session) clean(out string) []string {
	out = strings.ReplaceAll(out, s.tmp, "/tmp")
	out = strings.ReplaceAll(out, "\r\n", "\n")
	out = strings.TrimRight(out, "\n")
	if out == "" {
		return nil
	}
	lines := strings.Split(out, "\n")
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

const marker = "\x1eDOCCHECK-END"

func (s *session) runBlock(path string, b *Block) error {
	timeout := s.opt.CmdTimeout
	if b.Dir.Timeout > 0 {
		timeout = b.Dir.Timeout
	}
	if b.Dir.Output != "" {
		return s.expectBackground(path, b.Dir.Output, b.Line, b.Output, b.Dir, timeout)
	}
	if b.Dir.Background != "" {
		c := b.Cmds[0]
		s.seq++
		file := filepath.Join(s.scratch, fmt.Sprintf("bg%d.out", s.seq))
		s.bgs[b.Dir.Background] = &background{file: file, line: c.Line}
		// A subshell starts it, so it is not a job of the session's shell
		// (no job messages); it stays in the session's process group.
		script := fmt.Sprintf("( { %s\n} >%s 2>&1 </dev/null & )", s.prepare(c.Text), file)
		if _, err := s.exec(path, c.Line, script, timeout); err != nil {
			return err
		}
		return s.expectBackground(path, b.Dir.Background, c.Line, c.Expect, b.Dir, timeout)
	}
	for _, c := range b.Cmds {
		if s.opt.Log != nil {
			s.opt.Log("%s:%d: $ %s", path, c.Line, c.Text)
		}
		out, err := s.exec(path, c.Line, s.prepare(c.Text), timeout)
		if err != nil {
			return err
		}
		act := s.clean(out)
		var mm *Mismatch
		var nb *Bindings
		if b.Dir.Unordered {
			var n int
			n, nb, mm, err = matchUnordered(c.Expect, act, s.bind, b.Dir.Vary)
			if err == nil && mm == nil && n != len(act) {
				mm = &Mismatch{Got: act[n], Extra: true}
			}
		} else {
			_, nb, mm, err = matchSeq(c.Expect, act, s.bind, true, b.Dir.Vary)
		}
		if err != nil {
			return &Failure{path, c.Line, err.Error()}
		}
		if mm != nil {
			return s.failure(path, c, mm, act)
		}
		s.bind = nb
	}
	return nil
}

func (s *session) failure(path string, c *Cmd, mm *Mismatch, act []string) error {
	var msg strings.Builder
	line := mm.Exp.Line
	switch {
	case mm.Extra:
		line = c.Line
		if len(c.Expect) > 0 {
			line = c.Expect[len(c.Expect)-1].Line
		}
		fmt.Fprintf(&msg, "the output has more lines than the doc shows (end with a … line to omit them); next: %q", mm.Got)
	case mm.AtEnd:
		fmt.Fprintf(&msg, "the output ended before this line: %q", mm.Exp.Text)
	default:
		fmt.Fprintf(&msg, "output differs\n  doc: %q\n  got: %q", mm.Exp.Text, mm.Got)
		if mm.Reason != "" {
			fmt.Fprintf(&msg, "\n  (%s)", mm.Reason)
		}
	}
	fmt.Fprintf(&msg, "\n  command (line %d): $ %s\n  full output:\n", c.Line, c.Text)
	for _, l := range act {
		fmt.Fprintf(&msg, "    | %s\n", l)
	}
	return &Failure{path, line, msg.String()}
}

// exec runs one command in the session's shell and returns its output
// (stdout and stderr, as a terminal shows them).
func (s *session) exec(path string, line int, script string, timeout time.Duration) (string, error) {
	s.mu.Lock()
	s.buf.Reset()
	s.mu.Unlock()
	if _, err := fmt.Fprintf(s.stdin, "{ %s\n} </dev/null 2>&1; printf '\\n%s %%d\\n' $?\n", script, marker); err != nil {
		return "", &Failure{path, line, fmt.Sprintf("the shell is gone: %v", err)}
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		out := s.buf.String()
		s.mu.Unlock()
		if i := strings.Index(out, "\n"+marker+" "); i >= 0 && strings.Contains(out[i+1:], "\n") {
			return out[:i], nil
		}
		select {
		case <-s.changed:
		case <-s.doneC:
			return "", &Failure{path, line, "the shell exited (did the command exit the shell?)\n" + out}
		case <-deadline.C:
			return "", &Failure{path, line, fmt.Sprintf("still running after %v (mark a long-running server <!-- check: background NAME -->, or a slow block <!-- check: slow; timeout 5m -->)\n  output so far:\n%s", timeout, indent(out))}
		}
	}
}

func indent(s string) string {
	return "    | " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    | ")
}

// expectBackground waits until the background command name has printed
// the expected lines after what earlier blocks matched.
func (s *session) expectBackground(path, name string, line int, exp []ExpLine, d Directive, timeout time.Duration) error {
	bg, ok := s.bgs[name]
	if !ok {
		return &Failure{path, line, fmt.Sprintf("no background command named %q before this block", name)}
	}
	deadline := time.Now().Add(timeout)
	for {
		data, _ := os.ReadFile(bg.file)
		text := string(data)
		final := time.Now().After(deadline)
		if !final {
			// only complete lines, unless time is up
			if i := strings.LastIndexByte(text, '\n'); i >= 0 {
				text = text[:i+1]
			} else {
				text = ""
			}
		}
		all := dropJobMessages(s.clean(text))
		var act []string
		if bg.cursor < len(all) {
			act = all[bg.cursor:]
		}
		var n int
		var nb *Bindings
		var mm *Mismatch
		var err error
		if d.Unordered {
			n, nb, mm, err = matchUnordered(exp, act, s.bind, d.Vary)
		} else {
			n, nb, mm, err = matchSeq(exp, act, s.bind, false, d.Vary)
		}
		if err != nil {
			return &Failure{path, line, err.Error()}
		}
		if mm == nil {
			s.bind = nb
			bg.cursor += n
			return nil
		}
		// Output only grows: a line that differs (not one still missing)
		// will not match later, unless a … may skip it.
		if !final && !d.Unordered && !mm.AtEnd && !hasEllipsis(exp) {
			final = true
		}
		if final {
			c := &Cmd{Line: line, Text: fmt.Sprintf("(output of background %q, started at line %d)", name, bg.line)}
			f := s.failure(path, c, mm, act).(*Failure)
			if mm.AtEnd {
				f.Msg = fmt.Sprintf("after %v: %s", timeout, f.Msg)
			}
			return f
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func hasEllipsis(exp []ExpLine) bool {
	for _, l := range exp {
		if strings.Contains(l.Text, Ellipsis) {
			return true
		}
	}
	return false
}

// jobMessageRE is what the shell that runs a background command prints
// when that command dies of a signal ("bash: line 3:  1234 Hangup  go run
// ..."): the checker's wrapper, not the program, so it is dropped.
var jobMessageRE = regexp.MustCompile(`^bash: line \d+: +\d+ [A-Z][a-z]+`)

func dropJobMessages(lines []string) []string {
	out := lines[:0:0]
	for _, l := range lines {
		if !jobMessageRE.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// copyTree copies the repository's files (not .git, not scratch
// directories starting with _) into dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		name := d.Name()
		if d.IsDir() && rel != "." && (name == ".git" || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
}
