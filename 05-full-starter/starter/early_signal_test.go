package starter

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"hotdeploy/internal/proc"
)

// earlySignalRounds is how many starters each early-signal test starts: the
// window it probes (pid file written, sockets not yet bound, no worker yet)
// is short, so one round alone would often miss it.
const earlySignalRounds = 4

// signalOnPIDFile starts a starter with a pid file and sends it sig as soon
// as the pid file has content — what `start_server --restart`/`--stop`, a
// script waiting for the pid file, or systemd's ExecReload may do while the
// starter is still setting up. It polls the file tightly (100µs) so that the
// signal lands in the setup window; the loop is bounded by the 30 s deadline.
func signalOnPIDFile(t *testing.T, sig syscall.Signal, cfg Config) (*starterProc, string) {
	t.Helper()
	cfg.PIDFile = filepath.Join(t.TempDir(), "pid")
	p := startStarter(t, cfg)
	deadline := time.Now().Add(proc.ReadyTimeout)
	for {
		if b, err := os.ReadFile(cfg.PIDFile); err == nil && len(b) > 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "no pid file after %v:\n%s", proc.ReadyTimeout, p.Output())
		time.Sleep(100 * time.Microsecond)
	}
	p.SignalT(t, sig)
	return p, cfg.PIDFile
}

// A HUP that arrives while the starter is still setting up (the pid file
// exists, the first worker may not) must not kill it: the starter keeps
// running and serving, and shuts down cleanly later.
func TestRealHUPDuringSetup(t *testing.T) {
	t.Parallel()
	for i := range earlySignalRounds {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			p, pidFile := signalOnPIDFile(t, syscall.SIGHUP, Config{
				Ports: []string{"127.0.0.1:0"}, Command: workerCmd(), Interval: 100 * time.Millisecond,
			})
			// The handler is installed before the sockets are bound, so
			// the HUP is handled after the "listening on" line.
			addr := p.boundAddr()
			p.waitLine(`^received HUP`)
			// Serving: whichever generation runs answers.
			p.waitLine(`is now running`)
			assert.NotZero(t, get(t, "tcp", addr))
			assert.Equal(t, fmt.Sprintf("%d\n", p.PID()), fileContent(pidFile))
			p.stop()
			assert.Equal(t, "<none>", fileContent(pidFile), "pid file removed")
		})
	}
}

// A TERM that arrives while the starter is still setting up leads to a
// clean shutdown: exit 0, "exiting", pid file and --path socket removed.
func TestRealTERMDuringSetup(t *testing.T) {
	t.Parallel()
	for i := range earlySignalRounds {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "s.sock")
			p, pidFile := signalOnPIDFile(t, syscall.SIGTERM, Config{
				Ports: []string{"127.0.0.1:0"}, Paths: []string{sock}, Command: workerCmd(),
				Interval: 100 * time.Millisecond,
			})
			require.Equal(t, 0, p.WaitT(t), "exit code; output:\n%s", p.Output())
			assert.Contains(t, p.Output(), "received TERM")
			assert.Contains(t, p.Lines(), "exiting")
			assert.Equal(t, "<none>", fileContent(pidFile), "pid file removed")
			_, err := os.Lstat(sock)
			assert.ErrorIs(t, err, os.ErrNotExist, "unix socket file removed")
		})
	}
}
