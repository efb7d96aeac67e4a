package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"hotdeploy/internal/load"
	"hotdeploy/internal/proc"
)

// TestDemoRebuildsOnHUP runs start_server without arguments (the demo) on
// an OS-chosen port, and checks that a HUP deploys a freshly built worker:
// the build inputs change between the generations (generation 1 is built
// as the demo names it, v1; for generation 2 the envdir's GOFLAGS carries
// its own -X main.version), and the new generation reports the new version
// — while the old one served every request during the build.
func TestDemoRebuildsOnHUP(t *testing.T) {
	envDir := t.TempDir()
	setVersion := func(v string) {
		require.NoError(t, os.WriteFile(filepath.Join(envDir, "GOFLAGS"), []byte("-ldflags=-X=main.version="+v+"\n"), 0o644))
	}
	cmd := exec.Command(starterBin)
	cmd.Env = append(os.Environ(), demoAddrEnv+"=127.0.0.1:0", "ENVDIR="+envDir)
	p, err := proc.StartCmd(cmd)
	require.NoError(t, err)
	proc.Track(t, p)

	m := p.WaitLineT(t, `supervisor pid=(\d+)`)
	assert.Equal(t, strconv.Itoa(p.PID()), m[1], "the banner names the supervisor's PID")
	p.WaitLineT(t, `kill -HUP `+m[1])
	// The load test it suggests is the one the facilitator's guide runs:
	// against this supervisor, which gets the HUPs.
	p.WaitLineT(t, `^  scripts/loadtest\.sh -addr ADDR -pid `+m[1]+`$`)
	addr, err := proc.WaitListenAddr(p.PID(), proc.ReadyTimeout)
	require.NoError(t, err)

	// The socket is the supervisor's: this request waits in its queue until
	// the first build is done and the worker accepts.
	client := &http.Client{Timeout: 2 * demoReadyTimeout}
	resp, err := client.Get("http://" + addr + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "1", resp.Header.Get("X-Generation"))
	assert.Equal(t, "v1", resp.Header.Get("X-Version"), "the demo names generation N's build vN")

	setVersion("demo-B")
	run, err := load.Start(load.Config{Addr: addr, Clients: 4, MaxRequests: 1000000, MaxDuration: 2 * demoReadyTimeout})
	require.NoError(t, err)
	defer run.Stop()
	require.True(t, run.WaitFor(func(r load.Report) bool { return r.OK >= 20 }, proc.ReadyTimeout))
	beforeHUP := run.Snapshot().ByGen[1]
	p.SignalT(t, syscall.SIGHUP)
	p.WaitLineT(t, `generation 2: go build`)
	require.True(t, run.WaitFor(func(r load.Report) bool { return r.ByGen[2] >= 20 }, demoReadyTimeout),
		"generation 2 serves")
	rep := run.Stop()
	t.Logf("%v", rep)
	assert.Equal(t, 0, rep.Failed(), "no request failed while generation 2 was built and deployed")
	assert.Greater(t, rep.ByGen[1], beforeHUP, "generation 1 served after the HUP, during the build")

	// Both generations serve during generation 2's probation; once
	// generation 1 has exited, only generation 2 answers.
	p.WaitLineT(t, `^old worker \d+ died`)
	resp, err = client.Get("http://" + addr + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "2", resp.Header.Get("X-Generation"))
	assert.Equal(t, "demo-B", resp.Header.Get("X-Version"), "the new generation runs the new build")

	p.SignalT(t, syscall.SIGTERM)
	assert.Equal(t, 0, p.WaitT(t))
}
