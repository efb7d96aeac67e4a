package systemd

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sweepNotifyDirs removes the notify directory of a starter that is gone
// and nothing else: not a live starter's, not one holding other files, not
// a symlink, not one with another mode.
func TestSweepNotifyDirs(t *testing.T) {
	tmp := t.TempDir()
	gone := exec.Command("true")
	require.NoError(t, gone.Run())
	dead := strconv.Itoa(gone.Process.Pid)
	mkdir := func(name string, mode os.FileMode, files ...string) string {
		dir := filepath.Join(tmp, name)
		require.NoError(t, os.Mkdir(dir, mode))
		require.NoError(t, os.Chmod(dir, mode))
		for _, f := range files {
			if f == "w-1.sock" {
				c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, f), Net: "unixgram"})
				require.NoError(t, err)
				c.Close() // the file stays, as after a SIGKILL
				continue
			}
			require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("data"), 0o600))
		}
		return dir
	}
	leftover := mkdir("start_server-"+dead+"-111", 0o700, "w-1.sock")
	empty := mkdir("start_server-"+dead+"-222", 0o700)
	live := mkdir("start_server-"+strconv.Itoa(os.Getpid())+"-333", 0o700, "w-1.sock")
	withData := mkdir("start_server-"+dead+"-444", 0o700, "w-1.sock", "data")
	otherMode := mkdir("start_server-"+dead+"-555", 0o755)
	demo := mkdir("start_server-demo-666", 0o700)
	target := mkdir("target", 0o700)
	link := filepath.Join(tmp, "start_server-"+dead+"-777")
	require.NoError(t, os.Symlink(target, link))

	var logged []string
	sweepNotifyDirs(tmp, func(f string, a ...any) { logged = append(logged, f) })
	assert.NoDirExists(t, leftover)
	assert.NoDirExists(t, empty)
	for _, kept := range []string{live, withData, otherMode, demo, target} {
		assert.DirExists(t, kept)
	}
	assert.FileExists(t, filepath.Join(withData, "data"))
	_, err := os.Lstat(link)
	assert.NoError(t, err, "the symlink is left alone")
	assert.Len(t, logged, 2)
}
