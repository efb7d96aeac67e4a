package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"hotdeploy/internal/proc"
)

// liveView is what the /live page shows, read from its DOM.
type liveView struct {
	WSGen, WSPID, WSCodes, WSPending string
	SSEGen, SSEPID, SSELast          string
	SSEGaps, SSEDups                 string
	Bad                              int // log lines marked bad (red)
}

const readLiveView = `(() => {
  const t = (id) => document.getElementById(id).textContent.trim();
  return {
    WSGen: t("ws-gen"), WSPID: t("ws-pid"), WSCodes: t("ws-codes"), WSPending: t("ws-pending"),
    SSEGen: t("sse-gen"), SSEPID: t("sse-pid"), SSELast: t("sse-last"),
    SSEGaps: t("sse-gaps"), SSEDups: t("sse-dups"),
    Bad: document.querySelectorAll("#log .bad").length,
  };
})()`

// chromium finds a Chromium or Chrome to drive, or "".
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestLivePageAcrossRestart opens /live in headless Chromium, under our
// start_server, and restarts the worker: the page must end up with both
// connections on generation 2, show the WebSocket's close code 1012 and no
// gap or repeat in the event ids. With LIVE_SCREENSHOT=file.png it saves a
// screenshot of the page after the restart (docs/img/live-restart.png is
// one).
func TestLivePageAcrossRestart(t *testing.T) {
	browser := chromium()
	if browser == "" {
		t.Skip("no Chromium found (Debian: apt-get install chromium); the page is tested in a real browser only")
	}
	p, addr, pid1 := startStarter(t, "--probation=0", "--", binV1)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.NoSandbox, // tests may run as root (CI containers)
		chromedp.WindowSize(1100, 760),
		// Nothing but our loopback page: no proxy, no lookups elsewhere.
		chromedp.ProxyServer("direct://"),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	begin := time.Now()
	require.NoError(t, chromedp.Run(ctx, chromedp.Navigate("http://"+addr+"/live")), "Chromium %s", browser)
	t.Logf("page loaded after %v", time.Since(begin))

	var v liveView
	// waitView polls the page until cond holds (30 s at most).
	waitView := func(what string, cond func(liveView) bool) {
		t.Helper()
		deadline := time.Now().Add(proc.ReadyTimeout)
		for {
			require.NoError(t, chromedp.Run(ctx, chromedp.Evaluate(readLiveView, &v)))
			if cond(v) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the page does not show %s after %v: %+v", what, proc.ReadyTimeout, v)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	num := func(s string) int { n, _ := strconv.Atoi(s); return n }
	waitView("generation 1 on both", func(v liveView) bool {
		return v.WSGen == "1" && v.SSEGen == "1" && num(v.SSELast) >= 2
	})
	assert.Equal(t, strconv.Itoa(pid1), v.WSPID)
	assert.Equal(t, strconv.Itoa(pid1), v.SSEPID)

	t.Logf("generation 1 shown after %v", time.Since(begin))
	p.SignalT(t, syscall.SIGHUP)
	pid2 := p.WaitMatchesT(t, listeningRe, 2)[1][2]
	p.WaitLineT(t, fmt.Sprintf(`^old worker %d died, status:0$`, pid1))
	before := 0
	waitView("generation 2 on both, and events after the switch", func(v liveView) bool {
		if v.SSEGen != "2" && before == 0 {
			return false
		}
		if before == 0 {
			before = num(v.SSELast)
		}
		return v.WSGen == "2" && v.SSEGen == "2" && num(v.SSELast) >= before+2 && v.WSPending == "0"
	})
	t.Logf("after %v: %+v", time.Since(begin), v)
	assert.Equal(t, pid2, v.WSPID)
	assert.Equal(t, pid2, v.SSEPID)
	assert.Equal(t, "1012", v.WSCodes, "one close, with 1012 (Service Restart)")
	assert.Equal(t, "0", v.SSEGaps)
	assert.Equal(t, "0", v.SSEDups)
	assert.Zero(t, v.Bad, "no line of the page's log is marked bad")

	if out := os.Getenv("LIVE_SCREENSHOT"); out != "" {
		var png []byte
		require.NoError(t, chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)))
		require.NoError(t, os.WriteFile(out, png, 0o644))
		t.Logf("screenshot: %s", out)
	}
}
