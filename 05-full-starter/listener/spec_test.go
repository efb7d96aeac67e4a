package listener

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseServerStarterPort(t *testing.T) {
	ok := []struct {
		in   string
		want []Spec
	}{
		{"", nil},
		{"127.0.0.1:18080=4", []Spec{{"127.0.0.1:18080", 4}}},
		{"18081=4", []Spec{{"18081", 4}}},
		{"127.0.0.1:18082=4;18083=5;/tmp/t.sock=6", []Spec{{"127.0.0.1:18082", 4}, {"18083", 5}, {"/tmp/t.sock", 6}}},
		{"[::1]:18084=4", []Spec{{"[::1]:18084", 4}}},
		{"u9000=7;127.0.0.1:u9001=8", []Spec{{"u9000", 7}, {"127.0.0.1:u9001", 8}}},
		{"/tmp/a=b.sock=9", []Spec{{"/tmp/a=b.sock", 9}}}, // key up to the last "="
		{"8080=3;;8081=4;", []Spec{{"8080", 3}, {"8081", 4}}},
		{"8080=0", []Spec{{"8080", 0}}},
	}
	for _, tc := range ok {
		got, err := ParseServerStarterPort(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}

	bad := []struct{ in, msg string }{
		{"8080", `entry "8080": want KEY=FD`},
		{"=4", `entry "=4": empty key`},
		{"8080=", `entry "8080=": empty fd`},
		{"8080=x", `fd "x" is not a decimal number`},
		{"8080=-1", `fd "-1" is not a decimal number`},
		{"8080=+4", `fd "+4" is not a decimal number`},
		{"8080= 4", `fd " 4" is not a decimal number`},
		{"8080=99999999999999999999", `out of range`},
		{"8080=4;8081=4", `fd 4 already belongs to "8080"`},
	}
	for _, tc := range bad {
		_, err := ParseServerStarterPort(tc.in)
		require.Error(t, err, tc.in)
		assert.Contains(t, err.Error(), tc.msg, tc.in)
		assert.Contains(t, err.Error(), "SERVER_STARTER_PORT", tc.in)
	}
}

// FuzzParseServerStarterPort checks that any string either parses into specs
// that format back into an equivalent variable, or gives an error — never a
// panic.
func FuzzParseServerStarterPort(f *testing.F) {
	for _, s := range []string{
		"", "127.0.0.1:8080=4", "8080=3;8081=4", "[::1]:8080=5", "u9000=6", "/tmp/x.sock=7",
		"=", ";", ";;", "a=b=c", "8080=4;8080=4", "x=99999999999999999999", "k=-1", "k=0x10",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		specs, err := ParseServerStarterPort(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("empty error for %q", s)
			}
			return
		}
		var parts []string
		seen := map[int]bool{}
		for _, sp := range specs {
			if sp.Name == "" || sp.FD < 0 || sp.FD > maxFD || seen[sp.FD] || strings.Contains(sp.Name, ";") {
				t.Fatalf("%q parsed into bad spec %+v", s, sp)
			}
			seen[sp.FD] = true
			parts = append(parts, sp.Name+"="+strconv.Itoa(sp.FD))
		}
		again, err := ParseServerStarterPort(strings.Join(parts, ";"))
		if err != nil {
			t.Fatalf("%q: formatted specs do not parse: %v", s, err)
		}
		if len(again) != len(specs) {
			t.Fatalf("%q: round trip changed %v into %v", s, specs, again)
		}
		for i := range again {
			if again[i] != specs[i] {
				t.Fatalf("%q: round trip changed %v into %v", s, specs, again)
			}
		}
	})
}
