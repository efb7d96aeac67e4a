package listener

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseListenFDs(t *testing.T) {
	const self = 4242
	ok := []struct {
		fds, pid, names string
		want            []Spec
	}{
		{"", "", "", nil},                         // not socket-activated
		{"2", "", "", nil},                        // no LISTEN_PID: not ours
		{"2", "1", "a:b", nil},                    // another process's sockets
		{"junk", "1", "x", nil},                   // not ours: not even looked at
		{"0", "4242", "", []Spec{}},               // ours, none
		{"1", "4242", "", []Spec{{"unknown", 3}}}, // no names
		{"2", "4242", "http:", []Spec{{"http", 3}, {"unknown", 4}}},
		{"3", "4242", "a:b:c", []Spec{{"a", 3}, {"b", 4}, {"c", 5}}},
	}
	for _, tc := range ok {
		got, err := parseListenFDs(tc.fds, tc.pid, tc.names, self)
		require.NoError(t, err, "%+v", tc)
		assert.Equal(t, tc.want, got, "%+v", tc)
	}

	bad := []struct{ fds, pid, names, msg string }{
		{"1", "x", "", `LISTEN_PID "x": not a process id`},
		{"1", "-5", "", `LISTEN_PID "-5"`},
		{"", "4242", "", `LISTEN_FDS is not`},
		{"-1", "4242", "", `LISTEN_FDS "-1"`},
		{"two", "4242", "", `LISTEN_FDS "two"`},
		{"99999999999", "4242", "", `LISTEN_FDS "99999999999"`},
		{"2", "4242", "a", `LISTEN_FDNAMES "a": 1 names for 2 descriptors`},
		{"1", "4242", "a:b", `LISTEN_FDNAMES "a:b": 2 names for 1 descriptors`},
	}
	for _, tc := range bad {
		_, err := parseListenFDs(tc.fds, tc.pid, tc.names, self)
		require.Error(t, err, "%+v", tc)
		assert.Contains(t, err.Error(), tc.msg, "%+v", tc)
	}
}

// FuzzParseListenFDs checks that any combination of the three variables
// gives an error or specs that follow the protocol (fds 3.. in order, one
// non-empty name each) — never a panic.
func FuzzParseListenFDs(f *testing.F) {
	f.Add("1", "100", "", 100)
	f.Add("2", "100", "a:b", 100)
	f.Add("2", "100", "a", 100)
	f.Add("3", "7", "x:y:z", 100)
	f.Add("-1", "100", "", 100)
	f.Add("1048576", "100", "", 100)
	f.Add("", "100", "", 100)
	f.Add("1", "0x64", "", 100)
	f.Add("1", "100", ":", 100)
	f.Fuzz(func(t *testing.T, fds, pid, names string, self int) {
		specs, err := parseListenFDs(fds, pid, names, self)
		if err != nil {
			return
		}
		if len(specs) > 0 {
			if p, _ := strconv.Atoi(pid); p != self {
				t.Fatalf("used sockets meant for pid %q in pid %d", pid, self)
			}
			if names != "" && len(strings.Split(names, ":")) != len(specs) {
				t.Fatalf("%d specs for names %q", len(specs), names)
			}
		}
		for i, sp := range specs {
			if sp.FD != listenFDsStart+i || sp.Name == "" {
				t.Fatalf("spec %d is %+v", i, sp)
			}
		}
	})
}
