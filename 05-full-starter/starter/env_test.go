package starter

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWorkerEnv(t *testing.T) {
	base := []string{"PATH=/bin", "HOME=/root", "SERVER_STARTER_PORT=stale", "LISTEN_PID=1", "NOTIFY_SOCKET=/x", "KEEP=1", "OVER=base"}
	env := workerEnv(workerEnvSpec{
		base: base, overlay: map[string]string{"OVER": "dir", "NEW": "v", "SERVER_STARTER_GENERATION": "99"},
		port: "127.0.0.1:18082=3;18083=4;/tmp/t.sock=5", gen: 7, notify: "/run/n.sock",
		listenFDs: 3, fdNames: []string{"a", "b", "c"},
	})
	assert.Equal(t, []string{
		"PATH=/bin", "HOME=/root", "KEEP=1",
		"NEW=v", "OVER=dir",
		"SERVER_STARTER_PORT=127.0.0.1:18082=3;18083=4;/tmp/t.sock=5",
		"SERVER_STARTER_GENERATION=7",
		"NOTIFY_SOCKET=/run/n.sock",
		"LISTEN_FDS=3", "LISTEN_FDNAMES=a:b:c",
	}, env)

	// No sockets: SERVER_STARTER_PORT present and empty, no LISTEN_*.
	env = workerEnv(workerEnvSpec{base: []string{"LISTEN_FDS=2"}, gen: 1})
	assert.Equal(t, []string{"SERVER_STARTER_PORT=", "SERVER_STARTER_GENERATION=1"}, env)
}

func TestReadEnvDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644))
	}
	write("FOO", "bar\nsecond line\n")
	write("CRLF", "x\r\n")
	write("EMPTYLINE", "\n")
	write("EMPTY", "")
	write(".hidden", "no")
	require.NoError(t, os.Mkdir(filepath.Join(dir, "SUB"), 0o755))
	env, err := ReadEnvDir(dir)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"FOO": "bar", "CRLF": "x\r", "EMPTYLINE": ""}, env)

	require.NoError(t, os.Remove(filepath.Join(dir, "FOO")))
	env, err = ReadEnvDir(dir)
	require.NoError(t, err)
	_, has := env["FOO"]
	assert.False(t, has, "a removed file is gone at the next read")

	_, err = ReadEnvDir(filepath.Join(dir, "missing"))
	assert.Error(t, err)
}
