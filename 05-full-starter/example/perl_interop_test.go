package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"hotdeploy/internal/load"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPerlStartServer runs our worker under Perl's start_server, the
// reference implementation of the protocol, and deploys twice under load
// (50 clients): v1 is replaced by v2 on the first HUP, v2 by v2 on the
// second. No client may see an error of any class, every generation must
// serve, and each old worker must exit 0 (a complete drain).
func TestPerlStartServer(t *testing.T) {
	perl, err := exec.LookPath("start_server")
	if err != nil {
		t.Skip("Perl's start_server is not installed (Debian package libserver-starter-perl)")
	}
	for _, keepAlive := range []bool{true, false} {
		t.Run(fmt.Sprintf("keepalive=%v", keepAlive), func(t *testing.T) {
			// start_server runs this path at every restart: replacing the
			// file is the deploy.
			worker := filepath.Join(t.TempDir(), "worker")
			copyFile(t, binV1, worker)

			p, addr, pid1 := startOnFreePort(t, listeningRe, func(port int) []string {
				// --interval=1: Perl waits this long before it judges a
				// new worker started and signals the old one.
				return []string{perl, fmt.Sprintf("--port=127.0.0.1:%d", port), "--interval=1", "--", worker, "-drain", "20s"}
			})
			run, err := load.Start(load.Config{Addr: addr, Clients: 50, MaxRequests: 2_000_000,
				MaxDuration: 60 * time.Second, KeepAlive: keepAlive, Timeout: 10 * time.Second})
			require.NoError(t, err)
			defer run.Stop()
			require.True(t, run.WaitFor(func(r load.Report) bool { return r.ByGen[1] >= 200 }, 30*time.Second),
				"generation 1 serves: %v", run.Snapshot())

			copyFile(t, binV2, worker)
			old := pid1
			for gen := 2; gen <= 3; gen++ {
				p.SignalT(t, syscall.SIGHUP)
				// The new generation answers: seen in the responses, not
				// guessed from a sleep.
				require.True(t, run.WaitFor(func(r load.Report) bool { return r.ByGen[gen] >= 200 }, 30*time.Second),
					"generation %d serves: %v", gen, run.Snapshot())
				// Perl's status is the raw wait status: 0 = exited 0.
				p.WaitLineT(t, fmt.Sprintf(`^old worker %d died, status:0$`, old))
				resp, _ := get(t, addr, "/")
				assert.Equal(t, strconv.Itoa(gen), resp.Header.Get("X-Generation"), "only generation %d is left", gen)
				assert.Equal(t, "v2", resp.Header.Get("X-Version"))
				old, _ = strconv.Atoi(resp.Header.Get("X-Pid"))
				before := run.Snapshot().ByGen[gen]
				require.True(t, run.WaitFor(func(r load.Report) bool { return r.ByGen[gen] >= before+200 }, 30*time.Second),
					"generation %d serves alone: %v", gen, run.Snapshot())
			}
			rep := run.Stop()
			t.Logf("%v", rep)
			assert.Zero(t, rep.Failed(), "errors: %v, samples: %v", rep.Errors, rep.Samples)
			for gen := 1; gen <= 3; gen++ {
				assert.Positive(t, rep.ByGen[gen], "generation %d served", gen)
			}
			assert.Equal(t, 3, len(rep.ByPID), "three workers served: %v", rep.ByPID)
			assert.Positive(t, rep.ByVer["v1"])
			assert.Positive(t, rep.ByVer["v2"])
			assert.Equal(t, rep.OK, rep.ByVer["v1"]+rep.ByVer["v2"])

			p.SignalT(t, syscall.SIGTERM)
			assert.Equal(t, 0, p.WaitT(t))
			p.WaitLineT(t, fmt.Sprintf(`^worker %d died, status:0$`, old))
		})
	}
}

// copyFile replaces dst by a copy of src atomically (write a temporary
// file, rename), so a starter never executes a half-written binary.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	tmp := dst + ".tmp"
	require.NoError(t, os.WriteFile(tmp, data, 0o755))
	require.NoError(t, os.Rename(tmp, dst))
}
