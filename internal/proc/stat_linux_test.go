package proc

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadStatOfAProcessWithATrickyName runs sleep under a file name that
// a parser splitting at the first ')' or at spaces gets wrong, and reads its
// line through each state the callers look for: sleeping, stopped, zombie,
// reaped.
func TestReadStatOfAProcessWithATrickyName(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	require.NoError(t, err)
	data, err := os.ReadFile(sleep)
	require.NoError(t, err)
	const name = "x) Z 1 2 (y" // the command name is the file name's first 15 bytes
	bin := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(bin, data, 0o755))

	cmd := exec.Command(bin, "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	reaped := false
	defer func() {
		if !reaped {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()

	// Until it has exec'ed, the child has this test's name.
	st := waitStat(t, "the child to exec", func() (Stat, error) { return ReadStat(pid) },
		func(st Stat) bool { return st.Comm == name && st.State() == "S" })
	assert.Equal(t, pid, st.PID)
	assert.Equal(t, os.Getpid(), st.PPID())
	assert.Equal(t, pid, st.PGRP(), "Setpgid: its own group")
	assert.False(t, st.Gone())
	self, err := ReadStat(os.Getpid())
	require.NoError(t, err)
	childStart, err1 := strconv.ParseUint(st.StartTime(), 10, 64)
	selfStart, err2 := strconv.ParseUint(self.StartTime(), 10, 64)
	require.NoError(t, errors.Join(err1, err2))
	assert.GreaterOrEqual(t, childStart, selfStart, "starttime: the child started after this test")
	rest, err := StatFields(pid)
	require.NoError(t, err)
	assert.Equal(t, st.Rest, rest)

	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	task := waitStat(t, "the thread to stop", func() (Stat, error) { return ReadTaskStat(pid, pid) },
		func(st Stat) bool { return st.State() == "T" })
	assert.Equal(t, name, task.Comm)
	assert.Equal(t, st.StartTime(), task.StartTime(), "the main thread started with the process")

	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	waitStat(t, "a zombie", func() (Stat, error) { return ReadStat(pid) },
		func(st Stat) bool { return st.State() == "Z" && st.Gone() })
	assert.True(t, Exited(pid), "a zombie has exited")

	cmd.Wait()
	reaped = true
	_, err = ReadStat(pid)
	assert.ErrorIs(t, err, os.ErrNotExist, "reaped")
	_, err = ReadTaskStat(pid, pid)
	assert.ErrorIs(t, err, os.ErrNotExist, "reaped")
}

// waitStat reads a stat line until ok says yes, for up to 10 s.
func waitStat(t *testing.T, what string, read func() (Stat, error), ok func(Stat) bool) Stat {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := read()
		if err == nil && ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: last read %+v, %v", what, st, err)
		}
		time.Sleep(time.Millisecond)
	}
}
