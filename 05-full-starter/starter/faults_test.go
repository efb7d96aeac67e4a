package starter

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"hotdeploy/internal/proc"
)

// The starter under faults (issue 10): each test here failed before its fix.

// startStarterShell is startStarter with the starter run by sh after the
// shell command setup (a ulimit, say); sh execs it, so the pid is the
// starter's.
func startStarterShell(t *testing.T, setup string, cfg Config) *starterProc {
	t.Helper()
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command("sh", "-c", setup+` && exec "$0"`, exe)
	cmd.Env = append(os.Environ(), configEnv+"="+string(b))
	p, err := proc.StartCmd(cmd)
	require.NoError(t, err)
	proc.Track(t, p)
	return &starterProc{p, t}
}

// A pid file that cannot be written fails the start (it was swallowed:
// staticcheck SA4006), and the file this process created is removed.
func TestRealPIDFileWriteError(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	// RLIMIT_FSIZE 0: creating the file works, writing "PID\n" fails (EFBIG).
	p := startStarterShell(t, "ulimit -f 0", Config{Command: workerCmd(), PIDFile: pidFile, Interval: 100 * time.Millisecond})
	p.waitLine(`^start_server: pid file %s: write: file too large$`, regexp.QuoteMeta(pidFile))
	assert.Equal(t, 1, p.WaitT(t))
	assert.NotContains(t, p.Output(), "starting new worker")
	assert.Equal(t, "<none>", fileContent(pidFile), "the empty pid file it created is removed")
}
