//go:build exercise

// The exercise's test. It is behind the build tag "exercise" so that the
// template, which fails it until you fill in the TODOs, stays out of
// `go test ./...`. Run it with
//
//	go test -tags exercise ./05-full-starter/exercise/          # your ws.go (here)
//	go test -tags exercise ./05-full-starter/exercise/ -answer  # the answer (../example/ws.go)
//
// It builds our start_server (..) and the example worker (../example) with
// ws.go from here in place of its own (go build -overlay), unless -answer.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"hotdeploy/internal/proc"
)

var starterBin, workerBin string

func TestMain(m *testing.M) {
	answer := flag.Bool("answer", false, "test ../example/ws.go (the answer) instead of exercise/ws.go")
	flag.Parse()
	dir, err := os.MkdirTemp("", "hotdeploy-ex05-")
	if err != nil {
		panic(err)
	}
	code := 2
	defer func() {
		os.RemoveAll(dir)
		os.Exit(code)
	}()
	var extra []string
	if !*answer {
		overlay, err := templateOverlay(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return
		}
		extra = append(extra, "-overlay="+overlay)
	}
	if starterBin, err = proc.Build("..", dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	if workerBin, err = proc.Build("../example", dir, extra...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	code = m.Run()
}

// templateOverlay writes a go build -overlay file that puts ws.go (without
// its "//go:build ignore" line, which keeps it out of this directory's
// package) in place of ../example/ws.go.
func templateOverlay(dir string) (string, error) {
	src, err := os.ReadFile("ws.go")
	if err != nil {
		return "", err
	}
	body := strings.Replace(string(src), "//go:build ignore\n", "", 1)
	tmpl := filepath.Join(dir, "ws.go")
	if err := os.WriteFile(tmpl, []byte(body), 0o644); err != nil {
		return "", err
	}
	target, err := filepath.Abs("../example/ws.go")
	if err != nil {
		return "", err
	}
	j, err := json.Marshal(map[string]map[string]string{"Replace": {target: tmpl}})
	if err != nil {
		return "", err
	}
	overlay := filepath.Join(dir, "overlay.json")
	return overlay, os.WriteFile(overlay, j, 0o644)
}

// TestWebSocketsAcrossRestart: three WebSocket clients, one HUP. Each must
// get its echo, then a close frame with 1012 (Service Restart) from the old
// worker — not a cut connection (1006 in a browser) — and the old worker
// must exit 0 (a complete drain) right after, not at its drain deadline.
func TestWebSocketsAcrossRestart(t *testing.T) {
	p := proc.StartT(t, starterBin, "--port=127.0.0.1:0", "--probation=0", "--", workerBin, "-drain", "5s")
	m := p.WaitLineT(t, `^listening on (127\.0\.0\.1:\d+) pid=(\d+)$`)
	addr, old := m[1], m[2]

	type result struct {
		code websocket.StatusCode
		err  error
		at   time.Time
	}
	results := make(chan result, 3)
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, resp, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
		require.NoError(t, err)
		defer c.CloseNow()
		require.Equal(t, old, resp.Header.Get("X-Pid"))
		msg := fmt.Sprintf("message %d", i)
		require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(msg)))
		_, echo, err := c.Read(ctx)
		require.NoError(t, err)
		require.Equal(t, msg, string(echo))
		go func() {
			_, _, err := c.Read(ctx) // until the worker closes
			results <- result{websocket.CloseStatus(err), err, time.Now()}
		}()
	}

	p.SignalT(t, syscall.SIGHUP)
	ms := p.WaitMatchesT(t, `^listening on (127\.0\.0\.1:\d+) pid=(\d+)$`, 2)
	require.NotEqual(t, old, ms[1][2], "the HUP started a new worker")
	var last time.Time
	for range 3 {
		r := <-results
		assert.Equal(t, websocket.StatusServiceRestart, r.code,
			"the old worker must close each WebSocket with 1012; got %v (-1: the connection was cut without a close frame: a browser reports 1006)", r.err)
		if r.at.After(last) {
			last = r.at
		}
	}
	m = p.WaitLineT(t, `^old worker `+old+` died, status:(\d+)$`)
	assert.Equal(t, "0", m[1], "the old worker's drain must complete (exit 0), not be cut at its deadline")
	pid, _ := strconv.Atoi(old)
	assert.True(t, proc.Exited(pid))
	assert.Less(t, time.Since(last), 2*time.Second, "the old worker exits once its WebSockets are closed, not at its drain deadline (5 s)")
}

// TestCloseHandshakeIsAwaited: after its close frame the old worker waits
// for the client's answer (the close handshake) before it reports the
// connection done and exits. A raw client reads the 1012 close frame and
// answers it only after a second: until then the old worker must still run.
func TestCloseHandshakeIsAwaited(t *testing.T) {
	p := proc.StartT(t, starterBin, "--port=127.0.0.1:0", "--probation=0", "--", workerBin, "-drain", "8s")
	m := p.WaitLineT(t, `^listening on (127\.0\.0\.1:\d+) pid=(\d+)$`)
	addr, old := m[1], m[2]

	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	_, err = io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: "+addr+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)

	p.SignalT(t, syscall.SIGHUP)
	// Server frames are not masked: FIN+opcode, length, payload.
	var opcode byte
	var payload []byte
	for opcode != 0x8 { // a close frame
		var hdr [2]byte
		_, err := io.ReadFull(br, hdr[:])
		require.NoError(t, err, "the old worker cut the connection without a close frame")
		n := int(hdr[1] & 0x7f)
		if n == 126 {
			var ext [2]byte
			_, err = io.ReadFull(br, ext[:])
			require.NoError(t, err)
			n = int(binary.BigEndian.Uint16(ext[:]))
		}
		opcode, payload = hdr[0]&0x0f, make([]byte, n)
		_, err = io.ReadFull(br, payload)
		require.NoError(t, err)
	}
	require.GreaterOrEqual(t, len(payload), 2)
	require.Equal(t, uint16(1012), binary.BigEndian.Uint16(payload), "the close frame's status")

	// The client has not answered the close frame yet: the handshake is
	// not over, so the old worker must still be draining a second later.
	died := regexp.MustCompile(`^old worker ` + old + ` died`)
	_, err = p.WaitLine(died, time.Second)
	require.Error(t, err, "the old worker exited before the client answered its close frame. Check that "+
		"serveWS calls c.Close (which waits for the client's answer) before done tells the drain it is over")

	// Answer (client frames are masked; a zero mask leaves the payload as it is).
	_, err = conn.Write(append([]byte{0x88, 0x80 | 2, 0, 0, 0, 0}, payload[:2]...))
	require.NoError(t, err)
	m = p.WaitLineT(t, `^old worker `+old+` died, status:(\d+)$`)
	assert.Equal(t, "0", m[1], "the old worker's drain must complete once the handshake is over")
}
