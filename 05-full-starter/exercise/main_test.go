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
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
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
