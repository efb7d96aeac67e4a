package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// logSink is where --log-file sent the output: it has replaced this
// process's stdout and stderr (fds 1 and 2), so the supervisor's log lines
// and the workers' output (they inherit fds 1 and 2) go there, as in
// Server::Starter.
type logSink struct {
	// terminal is a copy of the stderr start_server was started with, for
	// the one line that says why it stopped. Closed by close.
	terminal *os.File
	// cmd is the log command of "--log-file=|cmd" (nil for a file).
	cmd *exec.Cmd
}

// logCmdExitTimeout bounds how long close waits for a log command to finish
// writing after its input has ended.
const logCmdExitTimeout = 5 * time.Second

// openLog opens spec — a file to append to, or "|cmd" for a command run by
// sh -c that reads the log on its stdin — and moves fds 1 and 2 onto it.
// It returns once the move is done; the caller must call close when the
// supervisor has returned.
func openLog(spec string) (*logSink, error) {
	termFD, err := unix.Dup(2)
	if err != nil {
		return nil, fmt.Errorf("--log-file: duplicate stderr: %w", err)
	}
	unix.CloseOnExec(termFD)
	l := &logSink{terminal: os.NewFile(uintptr(termFD), "terminal")}

	var target *os.File
	if cmdline, isCmd := strings.CutPrefix(strings.TrimLeft(spec, " \t"), "|"); isCmd {
		cmdline = strings.TrimSpace(cmdline)
		if cmdline == "" {
			l.terminal.Close()
			return nil, usagef("--log-file=%q: no command after |", spec)
		}
		r, w, err := os.Pipe()
		if err != nil {
			l.terminal.Close()
			return nil, fmt.Errorf("--log-file: pipe: %w", err)
		}
		l.cmd = exec.Command("sh", "-c", cmdline)
		l.cmd.Stdin, l.cmd.Stdout, l.cmd.Stderr = r, l.terminal, l.terminal
		if err := l.cmd.Start(); err != nil {
			r.Close()
			w.Close()
			l.terminal.Close()
			return nil, fmt.Errorf("--log-file: start %q: %w", cmdline, err)
		}
		r.Close() // the command has its copy
		target = w
	} else {
		f, err := os.OpenFile(spec, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			l.terminal.Close()
			return nil, fmt.Errorf("cannot open --log-file: %w", err)
		}
		target = f
	}
	defer target.Close() // fds 1 and 2 keep the file open
	for _, fd := range []int{1, 2} {
		if err := unix.Dup2(int(target.Fd()), fd); err != nil {
			l.close()
			return nil, fmt.Errorf("--log-file: redirect fd %d: %w", fd, err)
		}
	}
	return l, nil
}

// close points fds 1 and 2 back at the terminal (so that a log command sees
// the end of its input once the workers are gone too) and waits, bounded,
// for the log command to exit.
func (l *logSink) close() {
	for _, fd := range []int{1, 2} {
		_ = unix.Dup2(int(l.terminal.Fd()), fd)
	}
	if l.cmd != nil {
		done := make(chan struct{})
		go func() { _ = l.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(logCmdExitTimeout):
			_ = l.cmd.Process.Kill()
			<-done
		}
	}
	l.terminal.Close()
}
