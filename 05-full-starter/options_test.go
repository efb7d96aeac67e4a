package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"hotdeploy/05-full-starter/starter"
)

func dur(d time.Duration) *time.Duration { return &d }

// TestParseArgs checks Getopt::Long's forms: --opt=value, --opt value,
// -opt=value, repeated options, flags, the command after -- or between the
// options.
func TestParseArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want options
	}{
		{"equals form", []string{"--port=8080", "--interval=2", "--", "w"},
			options{cfg: starter.Config{Ports: []string{"8080"}, Interval: 2 * time.Second, Command: []string{"w"}}}},
		{"space form", []string{"--port", "8080", "--interval", "2", "--", "w"},
			options{cfg: starter.Config{Ports: []string{"8080"}, Interval: 2 * time.Second, Command: []string{"w"}}}},
		{"single dash", []string{"-port=8080", "-pid-file", "p", "--", "w"},
			options{cfg: starter.Config{Ports: []string{"8080"}, PIDFile: "p", Command: []string{"w"}}}},
		{"repeated port and path keep their order", []string{
			"--port=127.0.0.1:1", "--path", "/tmp/a.sock", "--port", "[::1]:2=5", "--path=/tmp/b.sock", "--", "w"},
			options{cfg: starter.Config{Ports: []string{"127.0.0.1:1", "[::1]:2=5"}, Paths: []string{"/tmp/a.sock", "/tmp/b.sock"}, Command: []string{"w"}}}},
		{"flags", []string{"--enable-auto-restart", "--restart", "--stop", "--help", "--version", "--daemonize", "--listen-fds"},
			options{enableAutoRestart: true, restart: true, stop: true, help: true, version: true, daemonize: true, cfg: starter.Config{ListenFDs: true}}},
		{"worker flags after -- are the worker's", []string{"--port=1", "--", "w", "--port=2", "-x", "--"},
			options{cfg: starter.Config{Ports: []string{"1"}, Command: []string{"w", "--port=2", "-x", "--"}}}},
		{"command without -- (Getopt::Long permute)", []string{"--port=1", "w", "arg", "--interval=3"},
			options{cfg: starter.Config{Ports: []string{"1"}, Interval: 3 * time.Second, Command: []string{"w", "arg"}}}},
		{"durations: seconds, decimals, Go units", []string{"--interval=0.25", "--kill-old-delay", "1500ms", "--ready-timeout=10", "--auto-restart-interval=2m", "--", "w"},
			options{cfg: starter.Config{Interval: 250 * time.Millisecond, ReadyTimeout: 10 * time.Second, Command: []string{"w"}},
				killOldDelay: dur(1500 * time.Millisecond), autoRestartInterval: dur(2 * time.Minute)}},
		{"kill-timeout may be negative, in either form", []string{"--kill-timeout", "-1", "--", "w"},
			options{cfg: starter.Config{KillTimeout: -time.Second, Command: []string{"w"}}}},
		// Config's zero means "the default": an explicit 0 is another value.
		{"zero durations", []string{"--interval=0", "--kill-timeout=0", "--probation=0", "--ready-timeout=0", "--kill-old-delay=0", "--", "w"},
			options{cfg: starter.Config{Interval: time.Nanosecond, KillTimeout: -1, Probation: -1, Command: []string{"w"}}, killOldDelay: dur(0)}},
		{"strings", []string{"--signal-on-hup=USR1", "--signal-on-term", "INT", "--dir=/d", "--envdir", "/e", "--status-file=s", "--log-file", "|cat", "--backlog=64", "--", "w"},
			options{cfg: starter.Config{SignalOnHUP: syscall.SIGUSR1, SignalOnTERM: syscall.SIGINT, Dir: "/d", StatusFile: "s", Backlog: 64, Command: []string{"w"}},
				envDir: "/e", envDirGiven: true, logFile: "|cat"}},
		{"a value may start with a dash", []string{"--dir", "-weird", "--", "w"},
			options{cfg: starter.Config{Dir: "-weird", Command: []string{"w"}}}},
		// Getopt::Long: any case, unambiguous abbreviations (as Perl's
		// start_server takes them), Perl's options first.
		{"any case, abbreviations", []string{"--VERSION", "--vers", "-Ver", "--PORT=1", "--pa=/a", "--kill=2", "--kill-t=3", "--sto", "--re", "--ready=4", "--", "w"},
			options{version: true, killOldDelay: dur(2 * time.Second), stop: true, restart: true,
				cfg: starter.Config{Ports: []string{"1"}, Paths: []string{"/a"}, KillTimeout: 3 * time.Second, ReadyTimeout: 4 * time.Second, Command: []string{"w"}}}},
		{"path-mode in octal", []string{"--path-mode=0660", "--", "w"},
			options{cfg: starter.Config{PathMode: 0o660, Command: []string{"w"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseArgs(tt.args)
			require.NoError(t, err)
			assert.Equal(t, tt.want, *got)
		})
	}
}

func TestParseArgsErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown option", []string{"--prot=80", "--", "w"}, "unknown option --prot=80 (the worker command and its flags go after --)"},
		{"worker flag before --", []string{"--port=80", "w", "-x"}, "unknown option -x (the worker command and its flags go after --)"},
		{"flag with a value", []string{"--stop=yes"}, `option --stop takes no value, got "yes"`},
		{"missing value at the end", []string{"--port"}, "option --port needs a value"},
		{"missing value before --", []string{"--pid-file", "--", "w"}, "option --pid-file needs a value"},
		{"bad seconds", []string{"--interval=soon", "--", "w"}, `option --interval: "soon" is not a number of seconds or a duration like 500ms`},
		{"negative interval", []string{"--interval=-1", "--", "w"}, `option --interval: "-1" is negative`},
		{"NaN kill-timeout", []string{"--kill-timeout=NaN", "--", "w"}, `option --kill-timeout: "NaN" is not a finite number of seconds`},
		{"Inf interval", []string{"--interval", "Inf", "--", "w"}, `option --interval: "Inf" is not a finite number of seconds`},
		{"bad backlog", []string{"--backlog=0", "--", "w"}, `option --backlog: "0" is not a positive integer`},
		{"ambiguous abbreviation", []string{"--s=1", "--", "w"}, "option --s is ambiguous (--signal-on-hup, --signal-on-term, --status-file, --stop)"},
		{"path-mode not octal", []string{"--path-mode=rw", "--", "w"}, `option --path-mode: "rw" is not a permission in octal from 1 to 0777 (such as 0660)`},
		{"path-mode zero", []string{"--path-mode=0", "--", "w"}, `option --path-mode: "0" is not a permission in octal from 1 to 0777 (such as 0660)`},
		{"unknown signal", []string{"--signal-on-hup=NOPE", "--", "w"}, `option --signal-on-hup: unknown signal "NOPE" (use a name such as TERM, SIGUSR1 or hup)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseArgs(tt.args)
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
			assert.ErrorAs(t, err, new(usageError))
		})
	}
}

func TestParseSeconds(t *testing.T) {
	tests := []struct {
		in       string
		negative bool // allowNegative
		want     time.Duration
		wantErr  string
	}{
		{in: "1", want: time.Second},
		{in: "0.5", want: 500 * time.Millisecond},
		{in: " 2 ", want: 2 * time.Second},
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "0", want: 0},
		{in: "-1", negative: true, want: -time.Second},
		{in: "-1", wantErr: `"-1" is negative`},
		{in: "soon", wantErr: `"soon" is not a number of seconds or a duration like 500ms`},
		{in: "NaN", wantErr: `"NaN" is not a finite number of seconds`},
		{in: "nan", negative: true, wantErr: `"nan" is not a finite number of seconds`},
		{in: "Inf", wantErr: `"Inf" is not a finite number of seconds`},
		{in: "+Inf", wantErr: `"+Inf" is not a finite number of seconds`},
		{in: "-Inf", negative: true, wantErr: `"-Inf" is not a finite number of seconds`},
		{in: "infinity", wantErr: `"infinity" is not a finite number of seconds`},
		{in: "1e10", wantErr: `"1e10" is too large (at most 9223372036 seconds)`},
		{in: "-1e10", negative: true, wantErr: `"-1e10" is too large (at most 9223372036 seconds)`},
		{in: "1e400", wantErr: `"1e400" is too large (at most 9223372036 seconds)`},
		{in: "9223372036", want: 9223372036 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSeconds(tt.in, tt.negative)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Equal(t, tt.wantErr, err.Error())
				assert.NotContains(t, err.Error(), "\n")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestBuildConfigPrecedence checks option > environment variable > default,
// and envdir file > both, as Perl's start_server 0.35 does it.
func TestBuildConfigPrecedence(t *testing.T) {
	envDir := t.TempDir()
	otherDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(otherDir, "KILL_OLD_DELAY"), []byte("7\nignored\n"), 0o644))

	tests := []struct {
		name          string
		args          []string
		env           map[string]string
		killOldDelay  time.Duration
		autoRestart   bool
		autoInterval  time.Duration
		wantEnvDir    string
		wantErrSubstr string
	}{
		{name: "defaults", args: []string{"--", "w"}},
		{name: "env stands in for a missing option", args: []string{"--", "w"},
			env:          map[string]string{"KILL_OLD_DELAY": "3", "ENABLE_AUTO_RESTART": "1", "AUTO_RESTART_INTERVAL": "9"},
			killOldDelay: 3 * time.Second, autoRestart: true, autoInterval: 9 * time.Second},
		{name: "option beats env", args: []string{"--kill-old-delay=0", "--auto-restart-interval=4", "--", "w"},
			env:          map[string]string{"KILL_OLD_DELAY": "3", "ENABLE_AUTO_RESTART": "yes", "AUTO_RESTART_INTERVAL": "9"},
			killOldDelay: 0, autoRestart: true, autoInterval: 4 * time.Second},
		{name: "auto-restart defaults: interval left to starter (360s), kill-old-delay 5s", args: []string{"--enable-auto-restart", "--", "w"},
			killOldDelay: 5 * time.Second, autoRestart: true, autoInterval: 0},
		{name: "ENABLE_AUTO_RESTART=0 is false, as in Perl", args: []string{"--", "w"},
			env: map[string]string{"ENABLE_AUTO_RESTART": "0"}},
		{name: "ENVDIR env", args: []string{"--", "w"}, env: map[string]string{"ENVDIR": envDir}, wantEnvDir: envDir},
		{name: "--envdir beats ENVDIR", args: []string{"--envdir", otherDir, "--", "w"}, env: map[string]string{"ENVDIR": envDir},
			wantEnvDir: otherDir, killOldDelay: 7 * time.Second},
		{name: "envdir file beats the option", args: []string{"--envdir=" + otherDir, "--kill-old-delay=1", "--", "w"},
			wantEnvDir: otherDir, killOldDelay: 7 * time.Second},
		{name: "bad env value", args: []string{"--", "w"}, env: map[string]string{"KILL_OLD_DELAY": "x"},
			wantErrSubstr: `KILL_OLD_DELAY: "x" is not a number of seconds`},
		{name: "NaN env value", args: []string{"--", "w"}, env: map[string]string{"KILL_OLD_DELAY": "NaN"},
			wantErrSubstr: `KILL_OLD_DELAY: "NaN" is not a finite number of seconds`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseArgs(tt.args)
			require.NoError(t, err)
			cfg, err := buildConfig(o, func(k string) string { return tt.env[k] })
			if tt.wantErrSubstr != "" {
				require.ErrorContains(t, err, tt.wantErrSubstr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.killOldDelay, cfg.KillOldDelay, "KillOldDelay")
			assert.Equal(t, tt.autoRestart, cfg.AutoRestart, "AutoRestart")
			assert.Equal(t, tt.autoInterval, cfg.AutoRestartInterval, "AutoRestartInterval")
			assert.Equal(t, tt.wantEnvDir, cfg.EnvDir, "EnvDir")
		})
	}
}

func TestBuildConfigFields(t *testing.T) {
	o, err := parseArgs([]string{"--port=127.0.0.1:0", "--port", "u9000", "--path=/tmp/x.sock", "--interval=0",
		"--signal-on-hup=usr1", "--signal-on-term", "SIGINT", "--backlog=16", "--dir=/tmp", "--pid-file=p", "--status-file=s",
		"--ready-timeout=5", "--kill-timeout=0", "--probation=0", "--", "w", "a"})
	require.NoError(t, err)
	cfg, err := buildConfig(o, func(string) string { return "" })
	require.NoError(t, err)
	assert.Equal(t, []string{"127.0.0.1:0", "u9000"}, cfg.Ports)
	assert.Equal(t, []string{"/tmp/x.sock"}, cfg.Paths)
	assert.Equal(t, []string{"w", "a"}, cfg.Command)
	assert.Equal(t, time.Nanosecond, cfg.Interval, "--interval=0 must not mean the 1s default")
	assert.Equal(t, syscall.SIGUSR1, cfg.SignalOnHUP)
	assert.Equal(t, syscall.SIGINT, cfg.SignalOnTERM)
	assert.Equal(t, 16, cfg.Backlog)
	assert.Equal(t, "/tmp", cfg.Dir)
	assert.Equal(t, "p", cfg.PIDFile)
	assert.Equal(t, "s", cfg.StatusFile)
	assert.Equal(t, 5*time.Second, cfg.ReadyTimeout)
	assert.Equal(t, time.Duration(-1), cfg.KillTimeout, "--kill-timeout=0 means never")
	assert.Equal(t, time.Duration(-1), cfg.Probation, "--probation=0 means none, not the 1s default")
}
