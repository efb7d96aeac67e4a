package proc

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// statTail is fields 3 to 52 of a line shaped like Linux 6.1's (cat's, with
// some numbers changed): state S, parent 4242, group 4300, utime 7, stime 3,
// starttime 1234567.
const statTail = "S 4242 4300 4242 34816 4300 4194304 117 0 0 0 7 3 0 0 20 0 1 0 1234567 " +
	"5791744 225 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"

func TestParseStatTrickyCommandNames(t *testing.T) {
	for _, comm := range []string{
		"cat",
		"",                 // an empty name: "()"
		"a b",              // spaces
		"x) R 1 1 1",       // a ')' followed by what looks like the next fields
		")",                // only a ')'
		"((",               // parentheses that open
		"(sd-pam)",         // systemd's, parentheses included
		"a)b)c",            // several ')'
		"tab\there",        // a tab, which strings.Fields would split at
		"new\nline",        // a newline
		"0123456789abcde",  // the longest name, 15 bytes
		"kworker/0:1H-kb)", // a '/' and a ')' last
	} {
		line := "4301 (" + comm + ") " + statTail
		st, err := ParseStat([]byte(line))
		require.NoError(t, err, "%q", line)
		assert.Equal(t, 4301, st.PID, "%q", comm)
		assert.Equal(t, comm, st.Comm)
		assert.Equal(t, "S", st.State(), "%q", comm)
		assert.False(t, st.Gone(), "%q", comm)
		assert.Equal(t, 4242, st.PPID(), "%q", comm)
		assert.Equal(t, 4300, st.PGRP(), "%q", comm)
		assert.Equal(t, 10, st.CPUTicks(), "%q: utime 7 + stime 3", comm)
		assert.Equal(t, "1234567", st.StartTime(), "%q", comm)
		assert.Equal(t, "4301", st.Field(1))
		assert.Equal(t, comm, st.Field(2))
		assert.Equal(t, "0", st.Field(52), "%q: the last field", comm)
		assert.Equal(t, "", st.Field(53), "%q: past the end", comm)
		assert.Equal(t, "", st.Field(0))
	}
}

func TestParseStatStates(t *testing.T) {
	for state, gone := range map[string]bool{"R": false, "S": false, "D": false, "T": false, "t": false, "Z": true, "X": true} {
		st, err := ParseStat([]byte("7 (z) " + state + statTail[1:]))
		require.NoError(t, err)
		assert.Equal(t, state, st.State())
		assert.Equal(t, gone, st.Gone(), "state %s", state)
	}
}

func TestParseStatErrors(t *testing.T) {
	fields := strings.Fields(statTail)
	for name, line := range map[string]string{
		"empty":                 "",
		"no parentheses":        "12 cat " + statTail,
		"no closing":            "12 (cat " + statTail,
		"closing before open":   "12 )cat( " + statTail,
		"pid not a number":      "x (cat) " + statTail,
		"no pid":                "(cat) " + statTail,
		"cut after the state":   "12 (cat) S\n",
		"cut before starttime":  "12 (cat) " + strings.Join(fields[:19], " ") + "\n",
		"parent not a number":   "12 (cat) S x " + strings.Join(fields[2:], " ") + "\n",
		"starttime not numeric": "12 (cat) " + strings.Join(fields[:19], " ") + " 12ab " + strings.Join(fields[20:], " ") + "\n",
	} {
		_, err := ParseStat([]byte(line))
		assert.Error(t, err, name)
	}
	// The shortest line accepted ends at starttime.
	st, err := ParseStat([]byte("12 (cat) " + strings.Join(fields[:20], " ") + "\n"))
	require.NoError(t, err)
	assert.Equal(t, "1234567", st.StartTime())
}
