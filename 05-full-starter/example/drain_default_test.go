package main

import (
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"hotdeploy/05-full-starter/listener"
	"hotdeploy/05-full-starter/starter"
)

// A worker that uses its whole drain must get to Close() and exit before
// the starter's KILL: the default drain deadlines (listener's and this
// program's -drain) are shorter than start_server's default --kill-timeout.
func TestDrainDefaultsShorterThanKillTimeout(t *testing.T) {
	assert.Less(t, listener.DefaultDrainTimeout, starter.DefaultKillTimeout, "listener.DefaultDrainTimeout")

	out, _ := exec.Command(binV1, "-h").CombinedOutput() // the usage text; the exit code does not matter
	m := regexp.MustCompile(`(?m)^\s+-drain duration\n.*\(default (\S+)\)`).FindSubmatch(out)
	require.NotNil(t, m, "no -drain default in the usage text:\n%s", out)
	d, err := time.ParseDuration(string(m[1]))
	require.NoError(t, err)
	assert.Less(t, d, starter.DefaultKillTimeout, "the example's -drain default")
}
