package listener

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInheritedSocketsSameCodeOnEveryUnix: the code that recognises an
// inherited socket (fd_unix.go) is the one built for macOS and the BSDs too,
// so the tests that run here on Linux test what a Mac runs; fd_other.go,
// which refuses every inherited socket, is only for systems without
// getsockopt. (Before, darwin got fd_other.go and start_server could not
// serve on a Mac.)
func TestInheritedSocketsSameCodeOnEveryUnix(t *testing.T) {
	for _, goos := range []string{"linux", "darwin", "freebsd"} {
		cmd := exec.Command("go", "list", "-f", "{{.GoFiles}}", ".")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=arm64", "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		files := strings.Fields(strings.Trim(strings.TrimSpace(string(out)), "[]"))
		assert.Contains(t, files, "fd_unix.go", goos)
		assert.NotContains(t, files, "fd_other.go", goos)
	}
}
