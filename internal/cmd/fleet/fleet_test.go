package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFleetSmall runs the real thing, small: 2 hosts in network namespaces
// behind HAProxy, rollout A (v1 → v2), the release of v3 that crashes at
// start on h2, and the rollback, under load through HAProxy. It checks what
// the clients saw, where each rollout ended, and that the run left no
// namespace, link, process or file behind.
func TestFleetSmall(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the fleet creates network namespaces, a bridge and veth links (run go test as root)")
	}
	if err := exec.Command("ip", "netns", "list").Run(); err != nil {
		t.Skipf(`network namespaces unavailable: "ip netns list": %v`, err)
	}
	root, err := filepath.Abs("../../..")
	require.NoError(t, err)
	// The driver and what it deploys, built at the same time (-bin): the
	// builds are most of the test's time.
	dir := t.TempDir()
	bin := filepath.Join(dir, "fleet")
	builds := [][]string{
		{"-o", bin, "./internal/cmd/fleet"},
		{"-o", filepath.Join(dir, "start_server"), "./05-full-starter"},
	}
	for _, v := range []string{"v1", "v2", "v3"} {
		builds = append(builds, []string{"-o", filepath.Join(dir, v, "example"), "-ldflags=-X main.version=" + v, "./05-full-starter/example"})
	}
	begin := time.Now()
	errs := make(chan error, len(builds))
	for _, args := range builds {
		go func() {
			build := exec.Command("go", append([]string{"build"}, args...)...)
			build.Dir = root
			out, err := build.CombinedOutput()
			if err != nil {
				err = fmt.Errorf("go build %v: %w\n%s", args, err, out)
			}
			errs <- err
		}()
	}
	for range builds {
		require.NoError(t, <-errs)
	}
	t.Logf("built in %v", time.Since(begin).Round(time.Millisecond))
	begin = time.Now()

	// A subnet nobody uses: the driver refuses one in use, so try a few.
	var output string
	var code int
	jsonPath := filepath.Join(dir, "result.json")
	for i := range 8 {
		subnet := fmt.Sprintf("10.214.%d.0/24", (os.Getpid()+i)%250)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, bin, "-hosts", "2", "-subnet", subnet, "-c", "8", "-warm", "200",
			"-bin", dir, "-json", jsonPath, "a", "fail", "rollback")
		cmd.Dir = root
		b, err := cmd.CombinedOutput()
		cancel()
		output, code = string(b), 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		if !strings.Contains(output, "is in use") {
			break
		}
	}
	t.Logf("fleet ran in %v; output:\n%s", time.Since(begin).Round(time.Millisecond), output)
	require.Equal(t, 0, code, "every step did what it should and the fleet ends on one version")

	var res struct {
		Prefix   string
		Steps    []stepResult
		Versions map[string]string
	}
	b, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &res))
	require.Len(t, res.Steps, 3)
	a, fail, back := res.Steps[0], res.Steps[1], res.Steps[2]

	assert.Equal(t, 0, a.failed(), "rollout A: no client saw an error: %v", a.Errors)
	assert.Empty(t, a.Stopped)
	assert.Equal(t, map[string]string{"h1": "v2", "h2": "v2"}, a.Versions)
	for _, k := range []string{"h1 v1", "h1 v2", "h2 v1", "h2 v2"} {
		assert.Positive(t, a.ByHostVersion[k], "rollout A: responses from %s (load ran through the whole rollout): %v", k, a.ByHostVersion)
	}
	assert.Zero(t, a.OutOfRotation, "rollout A: no host left HAProxy's rotation")

	assert.Equal(t, 0, fail.failed(), "failing release: no client saw an error: %v", fail.Errors)
	assert.Contains(t, fail.Stopped, "rollout of v3 stopped at h2 (host 2 of 2)")
	assert.Contains(t, fail.Stopped, "failed to start")
	assert.Equal(t, map[string]string{"h1": "v3", "h2": "v2"}, fail.Versions)
	assert.Positive(t, fail.ByHostVersion["h1 v3"])
	assert.Zero(t, fail.ByHostVersion["h2 v3"], "v3 never served on h2")

	assert.Equal(t, 0, back.failed(), "rollback: no client saw an error: %v", back.Errors)
	assert.Equal(t, map[string]string{"h1": "v2", "h2": "v2"}, res.Versions)

	// Nothing left behind: namespaces, links, processes, files.
	require.NotEmpty(t, res.Prefix)
	ns, err := exec.Command("ip", "netns", "list").Output()
	require.NoError(t, err)
	assert.NotContains(t, string(ns), res.Prefix, "a namespace of the run is left")
	links, err := exec.Command("ip", "-o", "link").Output()
	require.NoError(t, err)
	assert.NotContains(t, string(links), res.Prefix, "a link of the run is left")
	pids := regexp.MustCompile(`(?:start_server|haproxy) pid (\d+)`).FindAllStringSubmatch(output, -1)
	assert.Len(t, pids, 3, "2 start_servers and haproxy")
	for _, m := range pids {
		pid, _ := strconv.Atoi(m[1])
		assert.False(t, groupAlive(pid), "process group %d (and so its workers) is left", pid)
	}
	sock := regexp.MustCompile(`runtime API (\S+)`).FindStringSubmatch(output)
	require.NotNil(t, sock)
	_, err = os.Stat(filepath.Dir(sock[1]))
	assert.True(t, os.IsNotExist(err), "the run's directory %s is left", filepath.Dir(sock[1]))
}

func TestParseSubnet(t *testing.T) {
	p, err := parseSubnet("10.213.77.0/24")
	require.NoError(t, err)
	assert.Equal(t, "10.213.77.0/24", p.String())
	for _, bad := range []string{"10.213.77.5/24", "8.8.8.0/24", "10.0.0.0/8", "10.213.77.0/30", "fd00::/64", "x"} {
		_, err := parseSubnet(bad)
		assert.Error(t, err, bad)
	}
}

func TestHealthCheckStaysInTheFleet(t *testing.T) {
	fleetSubnet = netip.MustParsePrefix("10.213.77.0/24")
	defer func() { fleetSubnet = netip.Prefix{} }()
	assert.NoError(t, checkFleetAddr("10.213.77.11:8080"))
	for _, a := range []string{"10.213.78.11:8080", "192.0.2.2:80", "127.0.0.1:80", "example.com:80"} {
		assert.Error(t, checkFleetAddr(a), a)
	}
}

func TestVersionsSummary(t *testing.T) {
	assert.Equal(t, "all v2", versionsSummary(map[string]string{"h1": "v2", "h2": "v2"}))
	assert.Equal(t, "h1 v3, h2 v2, h3 v2", versionsSummary(map[string]string{"h3": "v2", "h1": "v3", "h2": "v2"}))
}

func TestClaimSubnetRefusesOneInUse(t *testing.T) {
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip(`needs "ip" (iproute2)`)
	}
	// lo has 127.0.0.1/8 on every Linux machine.
	_, err := claimSubnet(context.Background(), netip.MustParsePrefix("127.0.0.0/24"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is in use on this machine")
}

// TestCleanupKillsOnlyWhatItStarted: the journal names a process group by
// PID and start time; cleanup must leave alone a process whose PID matches
// but whose start time does not (the PID was reused), and end the one that
// matches.
func TestCleanupKillsOnlyWhatItStarted(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("reads /proc")
	}
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() { cmd.Process.Kill(); <-done }()
	pid := cmd.Process.Pid
	start, err := processStart(pid)
	require.NoError(t, err)

	dir := t.TempDir()
	j, err := openJournal(dir)
	require.NoError(t, err)
	require.NoError(t, j.add("pid", strconv.Itoa(pid), start+"0")) // another process's start time
	j.close()
	require.NoError(t, cleanup(j.path, time.Second, t.Logf))
	select {
	case <-done:
		t.Fatal("cleanup killed a process whose start time does not match the journal")
	case <-time.After(100 * time.Millisecond):
	}

	require.NoError(t, os.Remove(j.path))
	j, err = openJournal(dir)
	require.NoError(t, err)
	require.NoError(t, j.add("pid", strconv.Itoa(pid), start))
	j.close()
	require.NoError(t, cleanup(j.path, 5*time.Second, t.Logf))
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("cleanup did not end the journaled process group")
	}
}
