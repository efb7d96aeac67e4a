package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// restartTimeout is computed from the settings the server runs with:
// environment variables, the envdir and the auto-restart defaults count,
// not only the options given to --restart.
func TestRestartTimeout(t *testing.T) {
	envDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(envDir, "KILL_OLD_DELAY"), []byte("7\n"), 0o644))
	const slack = controlSlack
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    time.Duration
		wantErr string
	}{
		{name: "defaults: interval 1s, kill-timeout 30s", want: 1*time.Second + 30*time.Second + slack},
		{name: "KILL_OLD_DELAY from the environment", env: map[string]string{"KILL_OLD_DELAY": "100"},
			want: 1*time.Second + 100*time.Second + 30*time.Second + slack},
		{name: "--kill-old-delay beats KILL_OLD_DELAY", args: []string{"--kill-old-delay=2"},
			env: map[string]string{"KILL_OLD_DELAY": "100"}, want: 1*time.Second + 2*time.Second + 30*time.Second + slack},
		{name: "--enable-auto-restart: kill-old-delay 5s", args: []string{"--enable-auto-restart"},
			want: 1*time.Second + 5*time.Second + 30*time.Second + slack},
		{name: "ENABLE_AUTO_RESTART: kill-old-delay 5s", env: map[string]string{"ENABLE_AUTO_RESTART": "1"},
			want: 1*time.Second + 5*time.Second + 30*time.Second + slack},
		{name: "envdir file", args: []string{"--envdir=" + envDir},
			want: 1*time.Second + 7*time.Second + 30*time.Second + slack},
		{name: "ready-timeout longer than interval", args: []string{"--interval=2", "--ready-timeout=20", "--kill-timeout=10"},
			want: 20*time.Second + 10*time.Second + slack},
		{name: "kill-timeout never: bounded by the default", args: []string{"--kill-timeout=-1"},
			want: 1*time.Second + 30*time.Second + slack},
		{name: "bad KILL_OLD_DELAY", env: map[string]string{"KILL_OLD_DELAY": "soon"},
			wantErr: `KILL_OLD_DELAY: "soon" is not a number of seconds`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseArgs(append(tt.args, "--restart", "--pid-file=p", "--status-file=s"))
			require.NoError(t, err)
			got, err := restartTimeout(o, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				assert.ErrorAs(t, err, new(usageError))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
