package proc

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWaitLineConsumesInOrder(t *testing.T) {
	p := StartT(t, "sh", "-c", "echo 'a 1'; echo 'b 2'; echo 'a 3'; printf 'no newline'")
	m, err := p.WaitLine(regexp.MustCompile(`a (\d)`), 10*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "1", m[1])
	m, err = p.WaitLine(regexp.MustCompile(`a (\d)`), 10*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "3", m[1], "the second call starts after the first match")
	_, err = p.WaitLine(regexp.MustCompile(`b`), 10*time.Second)
	assert.Error(t, err, "b was before the cursor; the process has exited")
	assert.Equal(t, 0, p.WaitT(t))
	assert.Equal(t, []string{"a 1", "b 2", "a 3", "no newline"}, p.Lines())
}

func TestWaitMatchesIgnoresTheCursor(t *testing.T) {
	p := StartT(t, "sh", "-c", "echo 'x 2'; echo 'y'; echo 'x 1'; exec sleep 30")
	p.WaitLineT(t, `y`)
	m := p.WaitMatchesT(t, `x (\d)`, 2)
	assert.Equal(t, "2", m[0][1])
	assert.Equal(t, "1", m[1][1])
	_, err := p.WaitMatches(regexp.MustCompile(`x`), 3, 50*time.Millisecond)
	assert.ErrorContains(t, err, "2 of 3")
	m = p.WaitMatchesT(t, `y|x 1`, 1)
	assert.Len(t, m, 2, "returns every match, not just n")
}

func TestWaitLineTimesOut(t *testing.T) {
	p := StartT(t, "sleep", "30")
	start := time.Now()
	_, err := p.WaitLine(regexp.MustCompile(`never`), 100*time.Millisecond)
	assert.ErrorContains(t, err, "within 100ms")
	assert.Less(t, time.Since(start), 10*time.Second)
	code, err := p.Stop(10 * time.Second)
	assert.Equal(t, -1, code, "killed by SIGTERM")
	assert.Error(t, err)
}

func TestSurvivorsFindsAnOrphanedChild(t *testing.T) {
	// The shell starts a background sleep and exits: the sleep is left
	// behind in the shell's process group.
	p, err := Start("sh", "-c", "sleep 30 & echo started $!")
	require.NoError(t, err)
	p.WaitLineT(t, `started`)
	code, _ := p.Wait(ExitTimeout) // an error says the pipes had to be closed
	require.Equal(t, 0, code)
	require.Eventually(t, func() bool { return len(p.Survivors()) > 0 }, 10*time.Second, 10*time.Millisecond)
	p.KillGroup()
	assert.Eventually(t, func() bool { return len(p.Survivors()) == 0 }, 10*time.Second, 10*time.Millisecond)
}

func TestWaitZeroAfterExit(t *testing.T) {
	p := StartT(t, "true")
	<-p.Done()
	for range 50 {
		code, err := p.Wait(0)
		require.NoError(t, err)
		require.Equal(t, 0, code)
	}
	code, err := p.Stop(time.Second)
	assert.NoError(t, err, "Stop on an exited process")
	assert.Equal(t, 0, code)
}

func TestSignalAndExitCode(t *testing.T) {
	p := StartT(t, "sh", "-c", "trap 'echo got term; exit 3' TERM; echo ready; while :; do sleep 0.1; done")
	p.WaitLineT(t, `ready`)
	p.SignalT(t, syscall.SIGTERM)
	p.WaitLineT(t, `got term`)
	assert.Equal(t, 3, p.WaitT(t))
}

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "hello")
	require.NoError(t, os.MkdirAll(src, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "go.mod"), []byte("module hello\n\ngo 1.24\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nfunc main() { println(\"hi\") }\n"), 0o644))
	wd, _ := os.Getwd()
	require.NoError(t, os.Chdir(src))
	defer os.Chdir(wd)
	out := t.TempDir()
	bin, err := Build(".", out)
	require.NoError(t, err)
	p := StartT(t, bin)
	p.WaitLineT(t, `^hi$`)
	assert.Equal(t, 0, p.WaitT(t))

	// ".." is named after the directory too, not ".." (which would be out's parent).
	require.NoError(t, os.Mkdir(filepath.Join(src, "sub"), 0o755))
	require.NoError(t, os.Chdir(filepath.Join(src, "sub")))
	bin, err = Build("..", t.TempDir())
	require.NoError(t, err)
	assert.Equal(t, "hello", filepath.Base(bin))

	_, err = Build("./does-not-exist", out)
	assert.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "go build"), err.Error())
}
