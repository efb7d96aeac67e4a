package starter

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPIDFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pid")
	pf, err := acquirePIDFile(path)
	require.NoError(t, err)
	b, _ := os.ReadFile(path)
	assert.Equal(t, strconv.Itoa(os.Getpid())+"\n", string(b))

	// flock locks are per open file description: a second acquire in the
	// same process conflicts just like a second start_server would.
	_, err = acquirePIDFile(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is locked: another start_server (pid "+strconv.Itoa(os.Getpid())+")")
	b, _ = os.ReadFile(path)
	assert.Equal(t, strconv.Itoa(os.Getpid())+"\n", string(b), "the failed attempt must not touch the file")

	pid, f, err := openRunning(path)
	require.NoError(t, err)
	assert.Equal(t, os.Getpid(), pid)
	f.Close()

	pf.release()
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, _, err = openRunning(path)
	assert.ErrorContains(t, err, "does not exist")
	assert.ErrorContains(t, Stop(path, time.Second), "no running start_server")

	// A stale file (nobody holds the lock).
	require.NoError(t, os.WriteFile(path, []byte("12345\n"), 0o644))
	_, _, err = openRunning(path)
	assert.ErrorContains(t, err, "is not locked (stale file of pid 12345)")
	// And it can be taken over.
	pf, err = acquirePIDFile(path)
	require.NoError(t, err)
	pf.release()
}

// The race on a released pid file: a server that exits removes its pid file,
// then drops the lock. A new start_server that opened the path just before
// the removal gets the lock on the removed file; it must notice and lock the
// file at the path instead (or fail if a third one holds that).
func TestPIDFileReleasedBetweenOpenAndLock(t *testing.T) {
	t.Cleanup(func() { beforePIDLock = nil })
	path := filepath.Join(t.TempDir(), "pid")
	mine := strconv.Itoa(os.Getpid()) + "\n"

	// The old server exits between our open and our lock.
	old, err := acquirePIDFile(path)
	require.NoError(t, err)
	beforePIDLock = func() { beforePIDLock = nil; old.release() }
	pf, err := acquirePIDFile(path)
	require.NoError(t, err)
	assert.Equal(t, mine, fileContent(path), "a pid file at the path")
	same, err := isFileAt(pf.f, path)
	require.NoError(t, err)
	assert.True(t, same, "the lock is held on the file at the path, not on the removed one")
	_, err = acquirePIDFile(path)
	assert.ErrorContains(t, err, "is locked", "a later start_server sees the lock")
	pf.release()

	// And a third server took the path meanwhile: we must fail, not run
	// beside it.
	old, err = acquirePIDFile(path)
	require.NoError(t, err)
	var third *pidFile
	beforePIDLock = func() {
		beforePIDLock = nil
		old.release()
		third, err = acquirePIDFile(path)
		require.NoError(t, err)
	}
	_, err = acquirePIDFile(path)
	assert.ErrorContains(t, err, "is locked: another start_server")
	require.NotNil(t, third)
	assert.Equal(t, mine, fileContent(path))
	third.release()
}

// isFileAt compares device and inode: a file replaced at the same path is
// another file; a removed one is not at the path.
func TestIsFileAt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	same, err := isFileAt(f, path)
	require.NoError(t, err)
	assert.True(t, same)
	require.NoError(t, os.Remove(path))
	same, err = isFileAt(f, path)
	require.NoError(t, err)
	assert.False(t, same, "removed")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	same, err = isFileAt(f, path)
	require.NoError(t, err)
	assert.False(t, same, "replaced by another file")
}

func TestStatusFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status")
	require.NoError(t, writeStatusFile(path, []statusEntry{{3, 30}, {1, 10}, {2, 20}}))
	b, _ := os.ReadFile(path)
	assert.Equal(t, "1:10\n2:20\n3:30\n", string(b))
	es, err := readStatusFile(path)
	require.NoError(t, err)
	assert.Equal(t, []statusEntry{{1, 10}, {2, 20}, {3, 30}}, es)
	require.NoError(t, writeStatusFile(path, nil))
	b, _ = os.ReadFile(path)
	assert.Equal(t, "", string(b))
	left, _ := filepath.Glob(path + ".*")
	assert.Empty(t, left, "no temp file left behind")
}
