package proc

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Stat is one line of Linux's /proc/PID/stat (or /proc/PID/task/TID/stat),
// split into its fields. This is the repository's only parser of that line:
// the tests, the comparison with Perl's start_server and the fleet all read
// process state, parent, group, CPU time and start time through it.
type Stat struct {
	PID  int    // field 1
	Comm string // field 2, the command name, without its parentheses
	// Rest are fields 3 and on, as text: Rest[0] is the state (field 3).
	// Field numbers them as proc(5) does.
	Rest []string
}

// statMinFields is how many fields a line must have: up to starttime (22),
// the last one read here. Every Linux since 2.6 prints 44 or more.
const statMinFields = 22

// ParseStat splits the text of /proc/PID/stat. The command name is the hard
// part: it is whatever the program named itself (the executable's file name
// or prctl(PR_SET_NAME), up to 15 bytes), so it may contain spaces, '(' and
// ')'. The kernel does not escape it; it only wraps it in parentheses. So it
// runs from the first '(' to the LAST ')' of the line: every field after it
// is a number or a one-letter state and cannot contain ')'.
func ParseStat(data []byte) (Stat, error) {
	open := bytes.IndexByte(data, '(')
	closing := bytes.LastIndexByte(data, ')')
	if open < 0 || closing < open {
		return Stat{}, fmt.Errorf("stat line %.40q: no (command name)", data)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data[:open])))
	if err != nil {
		return Stat{}, fmt.Errorf("stat line %.40q: pid: %w", data, err)
	}
	st := Stat{PID: pid, Comm: string(data[open+1 : closing]), Rest: strings.Fields(string(data[closing+1:]))}
	if n := len(st.Rest) + 2; n < statMinFields {
		return Stat{}, fmt.Errorf("stat line of pid %d: %d fields, want at least %d", pid, n, statMinFields)
	}
	// The numbers the methods below return: checked here, so that a line
	// cut short or misparsed is an error, not a zero.
	for _, n := range []int{4, 5, 14, 15, 22} {
		if _, err := strconv.Atoi(st.Field(n)); err != nil {
			return Stat{}, fmt.Errorf("stat line of pid %d: field %d: %w", pid, n, err)
		}
	}
	return st, nil
}

// Field returns field n of the line, numbered as in proc(5): 3 the state,
// 4 the parent's PID, 5 the process group, 14 and 15 utime and stime,
// 22 starttime. Fields 1 to 22 are always there (ParseStat checks); a
// field past the end of the line is "".
func (s Stat) Field(n int) string {
	switch {
	case n == 1:
		return strconv.Itoa(s.PID)
	case n == 2:
		return s.Comm
	case n >= 3 && n-3 < len(s.Rest):
		return s.Rest[n-3]
	}
	return ""
}

// State is field 3: R running, S sleeping, D disk sleep, T stopped,
// t stopped by a tracer, Z zombie, X dead, …
func (s Stat) State() string { return s.Field(3) }

// Gone reports whether the process has exited: a zombie, not yet reaped, or
// dead.
func (s Stat) Gone() bool { return s.State() == "Z" || s.State() == "X" }

// PPID is field 4, the parent's PID.
func (s Stat) PPID() int { return s.num(4) }

// PGRP is field 5, the process group.
func (s Stat) PGRP() int { return s.num(5) }

// CPUTicks is utime+stime (fields 14 and 15), in clock ticks (usually 100
// per second).
func (s Stat) CPUTicks() int { return s.num(14) + s.num(15) }

// StartTime is field 22, when the process started, in clock ticks since
// boot: with the PID it names one process, even after the PID is reused.
func (s Stat) StartTime() string { return s.Field(22) }

// num returns field n as a number; ParseStat has checked that it is one.
func (s Stat) num(n int) int {
	v, _ := strconv.Atoi(s.Field(n))
	return v
}
