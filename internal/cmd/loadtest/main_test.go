package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	_ "image/png"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gonum.org/v1/plot"

	"hotdeploy/internal/load"
	"hotdeploy/internal/proc"
)

// repo is the repository root, seen from this package's directory.
const repo = "../../.."

// syncBuffer is a bytes.Buffer safe for the recorder and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fast are options for a test: few clients, no hold, short timeline.
func fast(out *syncBuffer, restarts int) options {
	return options{clients: 4, restarts: restarts, perGen: 100, timeout: 60 * time.Second,
		every: 50 * time.Millisecond, out: out}
}

// measureStage builds stage name from dir (the repository's if empty) and
// measures it with o.
func measureStage(t *testing.T, name, dir string, ka bool, o options, extra ...string) result {
	t.Helper()
	st := newStage(name, dir)
	if dir == "" {
		st.src = filepath.Join(repo, stageDirs[name])
	}
	st.extra = extra
	tmp := t.TempDir()
	require.NoError(t, st.build(tmp))
	res, err := measure(context.Background(), st, tmp, ka, o)
	require.NoError(t, err)
	return res
}

// patchedCopy copies the stage's directory (not the module) into a scratch
// directory and applies the answer patch with git apply, as the answers
// tell a learner to do. It returns the copy's directory.
func patchedCopy(t *testing.T, stageDir, patch string) string {
	t.Helper()
	scratch := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(scratch, stageDir), os.DirFS(filepath.Join(repo, stageDir))))
	abs, err := filepath.Abs(filepath.Join(repo, stageDir, "answers", patch))
	require.NoError(t, err)
	cmd := exec.Command("git", "apply", abs)
	cmd.Dir = scratch
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return filepath.Join(scratch, stageDir)
}

func countEvents(res result, k evKind) int {
	n := 0
	for _, e := range res.events {
		if e.kind == k {
			n++
		}
	}
	return n
}

// The stage as it is loses nothing, and the meter saw every restart through
// to the old worker's exit.
func TestMeter04LosesNothing(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	res := measureStage(t, "04", "", true, fast(&out, 2), "-drain-timeout", "2s")
	assert.Zero(t, res.report.Failed(), "%v\n%s", res.report, out.String())
	assert.Equal(t, 2, countEvents(res, evExit), "old workers seen exiting\n%s", out.String())
	assert.Equal(t, 2, countEvents(res, evDone))
	for g := 1; g <= 3; g++ {
		assert.GreaterOrEqual(t, res.report.ByGen[g], 100, "generation %d", g)
	}
	assert.Contains(t, out.String(), "» SIGHUP → pid")
	assert.Contains(t, out.String(), "generation 3: first response")
	assert.NotContains(t, out.String(), "\x1b[", "no colour asked for")
}

// 04 without "Connection: close" (the exercise's answer patch, applied to a
// copy outside the module, built with -dir): keep-alive clients stay on the
// old worker until its drain ends and closes their connections under them.
// The meter waits for that exit, so it sees the errors.
func TestMeter04NoConnectionCloseFails(t *testing.T) {
	t.Parallel()
	dir := patchedCopy(t, "04-graceful-shutdown", "no-connection-close.patch")
	var out syncBuffer
	o := fast(&out, 1)
	res := measureStage(t, "04", dir, true, o, "-drain-timeout", "1s")
	t.Logf("%v", res.report)
	assert.Positive(t, res.report.Failed(), "%v\n%s", res.report, out.String())
	assert.LessOrEqual(t, res.report.Failed(), 3*o.clients, "about one per client per restart: %v", res.report)
	assert.Equal(t, 1, countEvents(res, evExit))
}

// 03 stops the old worker at once: the requests on its keep-alive
// connections are cut.
func TestMeter03CutsOldWorkersRequests(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	res := measureStage(t, "03", "", true, fast(&out, 1))
	assert.Positive(t, res.report.Errors[load.Reset]+res.report.Errors[load.EOF], "%v\n%s", res.report, out.String())
	assert.Equal(t, 1, countEvents(res, evExit))
}

// A restart that does not happen gives no result: the run fails and says so.
func TestRestartThatDoesNotHappenFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Pid", "1")
		w.Header().Set("X-Generation", "1")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	var out syncBuffer
	o := fast(&out, 1)
	o.timeout, o.perGen = 2*time.Second, 1
	m := newMeter(&out)
	run, err := load.Start(loadConfig(o, ln.Addr().String(), true, nil))
	require.NoError(t, err)
	defer run.Stop()
	err = drive(context.Background(), httpProgress(run, o, func(map[int]int, int) (bool, string) { return true, "" }),
		m, o, func() error { return nil })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "restart 1: not done within 2s: no response from a new generation (still 1): the restart did not happen")
}

// -addr/-pid: a server we did not start (here 04, started by the test as a
// learner would in another terminal) is loaded and restarted through its
// PID; the meter polls the old workers' PIDs to see them go.
func TestExternalServer(t *testing.T) {
	t.Parallel()
	bin, err := buildDir(filepath.Join(repo, "04-graceful-shutdown"), filepath.Join(t.TempDir(), "s04"))
	require.NoError(t, err)
	p, err := proc.Start(bin, "-addr", "127.0.0.1:0", "-drain-timeout", "2s")
	require.NoError(t, err)
	t.Cleanup(func() { p.Stop(10 * time.Second) })
	m, err := p.WaitLine(listeningRE, 30*time.Second)
	require.NoError(t, err)

	var out syncBuffer
	o := fast(&out, 2)
	o.keepAlive, o.addr, o.pid = []bool{true}, m[1], p.PID()
	res, err := measureExternal(context.Background(), o)
	require.NoError(t, err, "%s", out.String())
	assert.Zero(t, res.report.Failed(), "%v", res.report)
	assert.Equal(t, 2, countEvents(res, evExit), "%s", out.String())
	// The server's own log shows the same restarts.
	exits, err := p.WaitMatches(workerExitedRE, 2, 10*time.Second)
	require.NoError(t, err)
	for _, e := range exits {
		assert.Contains(t, out.String(), fmt.Sprintf("pid %s is gone", e[1]))
	}
}

func TestCheckArgs(t *testing.T) {
	for _, c := range []struct {
		args []string
		o    options
		want string
	}{
		{[]string{"06"}, options{}, `unknown stage "06"`},
		{nil, options{addr: "10.0.0.1:80", pid: os.Getpid()}, `-addr: "10.0.0.1" is not a loopback address; refusing to send traffic there`},
		{nil, options{addr: "127.0.0.1:80"}, "-addr HOST:PORT and -pid PID go together"},
		{[]string{"04"}, options{addr: "127.0.0.1:80", pid: 1}, "give no stage"},
		{[]string{"04"}, options{chart: "x.jpg"}, "want a file name ending in .png or .svg"},
		{[]string{"table"}, options{dir: "/tmp"}, "-dir builds one stage"},
		{[]string{"04"}, options{dir: "/nonexistent-dir"}, "-dir: stat /nonexistent-dir"},
	} {
		o := c.o
		o.clients, o.restarts, o.perGen, o.timeout = 1, 1, 1, time.Second
		_, err := checkArgs(&o, c.args, "on", map[string]bool{})
		if assert.Error(t, err, "%v %+v", c.args, c.o) {
			assert.Contains(t, err.Error(), c.want)
			assert.NotContains(t, err.Error(), "\n")
		}
	}
	o := options{clients: 1, restarts: 1, perGen: 1, timeout: time.Second, hold: time.Second, every: time.Second}
	what, err := checkArgs(&o, []string{"table"}, "both", map[string]bool{})
	require.NoError(t, err)
	assert.Equal(t, "table", what)
	assert.Zero(t, o.hold, "table holds 0 unless asked")
	assert.Zero(t, o.every, "table prints no timeline unless asked")
	assert.Equal(t, []bool{false, true}, o.keepAlive)
}

// The command refuses a non-loopback -addr with one line and exit status 2.
func TestRefusesNonLoopbackAddr(t *testing.T) {
	t.Parallel()
	bin, err := buildDir(".", filepath.Join(t.TempDir(), "loadtest"))
	require.NoError(t, err)
	cmd := exec.Command(bin, "-addr", "192.0.2.1:80", "-pid", fmt.Sprint(os.Getpid()))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "%v", err)
	assert.Equal(t, 2, ee.ExitCode())
	assert.Equal(t, "loadtest: -addr: \"192.0.2.1\" is not a loopback address; refusing to send traffic there\n", string(out))
}

func TestColour(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	require.NoError(t, err)
	defer f.Close()
	assert.False(t, colorWanted(f, func(string) string { return "" }), "a file is not a terminal")
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		assert.True(t, colorWanted(tty, func(string) string { return "" }))
		assert.False(t, colorWanted(tty, func(k string) string {
			if k == "NO_COLOR" {
				return "1"
			}
			return ""
		}), "NO_COLOR")
	}

	a := sample{byGen: map[int]int{1: 100}, errs: map[load.Class]int{}}
	b := sample{at: time.Second, byGen: map[int]int{1: 150, 2: 50}, errs: map[load.Class]int{load.EOF: 3}}
	r := &recorder{o: options{}}
	assert.Equal(t, "   1.000s  gen 1 ███████████████████ 50 gen 2 ███████████████████ 50  errors: eof 3", r.httpLine(a, b))
	r = &recorder{o: options{color: true}}
	colored := r.httpLine(a, b)
	assert.Contains(t, colored, "\x1b[36mgen 1 ")
	assert.Contains(t, colored, "\x1b[33mgen 2 ")
	assert.Contains(t, colored, "\x1b[31merrors: eof 3\x1b[0m")
	assert.Equal(t, 1, strings.Count(colored, "\x1b[31m"), "red is for errors only")
}

// A chart of a run: the PNG decodes as an image of the chart's size, the
// SVG parses as XML.
func TestChart(t *testing.T) {
	t.Parallel()
	var samples []sample
	for i := 0; i <= 100; i++ {
		s := sample{at: time.Duration(i) * 10 * time.Millisecond, byGen: map[int]int{1: min(i, 50) * 40}, errs: map[load.Class]int{}}
		if i > 50 {
			s.byGen[2] = (i - 50) * 40
			s.errs[load.Reset] = 7
		}
		samples = append(samples, s)
	}
	res := result{title: "04-graceful-shutdown, keep-alive on", restarts: 1, clients: 4, samples: samples,
		report: load.Report{Sent: 4007, OK: 4000, ByGen: map[int]int{1: 2000, 2: 2000}, Errors: map[load.Class]int{load.Reset: 7}},
		events: []event{{at: 495 * time.Millisecond, kind: evSignal}, {at: 510 * time.Millisecond, kind: evExit}}}
	dir := t.TempDir()

	png := filepath.Join(dir, "run.png")
	require.NoError(t, drawChart(res, png))
	f, err := os.Open(png)
	require.NoError(t, err)
	defer f.Close()
	img, format, err := image.Decode(f)
	require.NoError(t, err)
	assert.Equal(t, "png", format)
	assert.Equal(t, image.Rect(0, 0, 1440, 810), img.Bounds())

	svg := filepath.Join(dir, "run.svg")
	require.NoError(t, drawChart(res, svg))
	b, err := os.ReadFile(svg)
	require.NoError(t, err)
	var doc struct {
		XMLName xml.Name
		Width   string `xml:"width,attr"`
	}
	require.NoError(t, xml.Unmarshal(b, &doc))
	assert.Equal(t, "svg", doc.XMLName.Local)
	assert.Contains(t, string(b), "04-graceful-shutdown, keep-alive on, 4 clients: 1 restart, 4007 requests, 7 failed")

	assert.ErrorContains(t, drawChart(result{}, filepath.Join(dir, "empty.png")), "no samples")
}

func TestTicks(t *testing.T) {
	labels := func(tk []plot.Tick) []string {
		var l []string
		for _, x := range tk {
			l = append(l, x.Label)
		}
		return l
	}
	assert.Equal(t, []string{"0.00s", "0.05s", "0.10s", "0.15s", "0.20s", "0.25s", "0.30s", "0.35s", "0.40s", "0.45s"},
		labels(ticks{unit: "s", fractions: true}.Ticks(0, 0.48)))
	assert.Equal(t, []string{"0", "1"}, labels(ticks{}.Ticks(0, 1.45)))
	assert.Equal(t, []string{"0", "1000", "2000", "3000", "4000", "5000", "6000", "7000"}, labels(ticks{}.Ticks(0, 7000)))
	assert.Equal(t, []string{"0s", "5s", "10s", "15s", "20s"}, labels(ticks{unit: "s", fractions: true, most: 6}.Ticks(0, 21)))
}

func TestCheckArgsProto(t *testing.T) {
	for _, c := range []struct {
		args []string
		o    options
		set  string
		want string
	}{
		{[]string{"05"}, options{proto: "tcp"}, "", `-proto "tcp": want http, ws, sse or mixed`},
		{[]string{"04"}, options{proto: "ws"}, "", "only 05's example worker serves /ws and /events"},
		{[]string{"table"}, options{proto: "mixed"}, "", "only 05's example worker serves /ws and /events"},
		{[]string{"05"}, options{proto: "http"}, "jitter", "-jitter is for long-lived connections"},
		{[]string{"storm"}, options{proto: "http"}, "", "storm measures long-lived connections"},
		{[]string{"05"}, options{proto: "mixed", interval: -1}, "", "-interval must be positive"},
		{nil, options{proto: "ws", addr: "127.0.0.1:80", pid: os.Getpid(), spread: time.Second}, "", "-spread is a flag of the worker"},
	} {
		o := c.o
		o.clients, o.restarts, o.perGen, o.timeout = 2, 1, 1, time.Second
		if o.interval == 0 {
			o.interval = time.Second
		}
		_, err := checkArgs(&o, c.args, "on", map[string]bool{c.set: true})
		if assert.Error(t, err, "%v %+v", c.args, c.o) {
			assert.Contains(t, err.Error(), c.want)
		}
	}
	for _, args := range [][]string{{"05"}, {"storm"}} {
		o := options{proto: "mixed", clients: 2, restarts: 1, perGen: 1, timeout: time.Second, interval: time.Second}
		what, err := checkArgs(&o, args, "on", map[string]bool{})
		require.NoError(t, err)
		assert.Equal(t, args[0], what)
	}
	o := options{proto: "mixed", clients: 7}
	ws, sse := split(o)
	assert.Equal(t, []int{4, 3}, []int{ws, sse})
}

// The stream timeline shows the connections open by generation and the
// failures of the interval.
func TestStreamLine(t *testing.T) {
	a := sample{open: map[int]int{1: 200}, flow: 1000, fails: map[string]int{}}
	b := sample{at: 2 * time.Second, open: map[int]int{1: 50, 2: 140}, flow: 1500, fails: map[string]int{"abnormal": 2, "lost": 1}}
	r := &recorder{o: options{clients: 200}}
	assert.Equal(t, "   2.000s  gen 1 ██████████ 50 gen 2 ████████████████████████████ 140  10 reconnecting  (500 echoes+events)  failures: abnormal 2, lost 1",
		r.streamLine(a, b))
}

// The summary's verdict counts an old worker that exited 1s or more after
// its last connection closed, or whose exit was not seen, as not within.
func TestStreamSummary(t *testing.T) {
	rep := load.StreamReport{ByGen: map[int]int{1: 4, 2: 4, 3: 4, 4: 4}, PIDGen: map[int]int{11: 1, 12: 2, 13: 3, 14: 4},
		LastClose: map[int]time.Duration{1: time.Second, 2: 3 * time.Second, 3: 5 * time.Second}}
	res := result{streams: &rep, exits: map[int]time.Duration{11: 1010 * time.Millisecond, 12: 4500 * time.Millisecond}}
	s := streamSummary(res)
	assert.Contains(t, s, "generation 1 (pid 11): last connection closed at 1.000s, worker exited at 1.010s\n")
	assert.Contains(t, s, "generation 2 (pid 12): last connection closed at 3.000s, worker exited at 4.500s\n")
	assert.Contains(t, s, "generation 3 (pid 13): last connection closed at 5.000s; exit not seen\n")
	assert.Contains(t, s, "old workers gone within 1s of their last connection: 1 of 3\n")
}

// The stream chart and the storm chart decode as PNGs of the chart's size.
func TestStreamCharts(t *testing.T) {
	t.Parallel()
	var samples []sample
	for i := 0; i <= 100; i++ {
		s := sample{at: time.Duration(i) * 10 * time.Millisecond, open: map[int]int{1: 100}, fails: map[string]int{}}
		if i > 50 {
			s.open = map[int]int{1: max(0, 100-(i-50)*10), 2: min(100, (i-50)*10)}
		}
		samples = append(samples, s)
	}
	rep := load.StreamReport{ByGen: map[int]int{1: 100, 2: 100}, WS: load.ProtoReport{Connects: 100}, SSE: load.ProtoReport{Connects: 100}}
	res := result{title: "05-full-starter, 50 WebSocket + 50 SSE clients", restarts: 1, clients: 100, samples: samples, streams: &rep,
		events:  []event{{at: 495 * time.Millisecond, kind: evSignal}, {at: 700 * time.Millisecond, kind: evExit}},
		connect: []time.Duration{time.Millisecond, 2 * time.Millisecond, 1100 * time.Millisecond}}
	dir := t.TempDir()
	for name, draw := range map[string]func(string) error{
		"run.png":   func(f string) error { return drawStreamChart(res, f) },
		"storm.png": func(f string) error { return drawStorm([]stormRun{{"all at once", res}, {"both", res}}, 100, "", f) },
	} {
		require.NoError(t, draw(filepath.Join(dir, name)))
		f, err := os.Open(filepath.Join(dir, name))
		require.NoError(t, err)
		img, format, err := image.Decode(f)
		f.Close()
		require.NoError(t, err)
		assert.Equal(t, "png", format)
		assert.Equal(t, image.Rect(0, 0, 1440, 810), img.Bounds())
	}
	// From the first connection gen 1 lost (at 0.51s) to all 100 on gen 2 (0.60s).
	assert.Equal(t, 90*time.Millisecond, movedIn(res))
}

// 05's example worker across restarts, with long-lived clients of both
// kinds: every close a 1012, every SSE stream ended cleanly after retry:,
// nothing lost, every client on each new generation, each old worker gone
// soon after its last connection. The code path of the 10,000-client
// storm, small.
func TestMeter05Streams(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	o := fast(&out, 2)
	o.proto, o.clients, o.interval = "mixed", 40, 20*time.Millisecond
	st := newStage("05", filepath.Join(repo, stageDirs["05"]))
	tmp := t.TempDir()
	require.NoError(t, st.build(tmp))
	res, err := measureStreams(context.Background(), st, tmp, o)
	require.NoError(t, err, "%s", out.String())
	rep := res.streams
	assert.Zero(t, rep.Failures(), "%v\n%s", rep, out.String())
	assert.Equal(t, map[int]int{1012: 40}, rep.WS.Codes, "20 WebSocket clients, 2 restarts")
	assert.Equal(t, 40, rep.SSE.Retry)
	assert.Equal(t, map[int]int{1: 40, 2: 40, 3: 40}, rep.ByGen)
	assert.Equal(t, rep.WS.Sent, rep.WS.Echoed)
	assert.Equal(t, 2, countEvents(res, evDone))
	assert.Contains(t, streamSummary(res), "old workers gone within 1s of their last connection: 2 of 2\n")
	assert.Contains(t, out.String(), "restart 2 done in ")
	assert.Contains(t, out.String(), "generation 3 has all 40 clients, the old ones are gone")
}
