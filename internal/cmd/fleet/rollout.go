package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"hotdeploy/internal/load"
)

// stepResult is what one measured step (a rollout or a rollback) did and
// what the clients saw while it ran.
type stepResult struct {
	Step     string         `json:"step"` // a, b, fail, rollback
	What     string         `json:"what"`
	To       string         `json:"to"`
	Rollout  time.Duration  `json:"rollout_ns"` // first host's start to last host's end
	Requests int            `json:"requests"`
	OK       int            `json:"ok"`
	Errors   map[string]int `json:"errors"` // by class, every class present
	// ByHostVersion counts 2xx responses by "HOST VERSION", as HAProxy's
	// X-Served-By header said.
	ByHostVersion map[string]int `json:"by_host_version"`
	// OutOfRotation is, summed over the hosts, how long HAProxy would not
	// send a host new requests during the rollout (drained or down),
	// sampled every 50 ms.
	OutOfRotation time.Duration     `json:"out_of_rotation_ns"`
	CapacityLost  float64           `json:"capacity_lost"` // OutOfRotation / (hosts × Rollout)
	ReqPerSec     float64           `json:"req_per_sec"`   // during the rollout
	Stopped       string            `json:"stopped,omitempty"`
	Versions      map[string]string `json:"versions"` // host → version it serves afterwards
	P99           time.Duration     `json:"p99_ns"`
}

func (r *stepResult) failed() int {
	n := 0
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// errStopped is a rollout that stopped at a host; the message says where and
// why.
var errStopped = errors.New("rollout stopped")

// measured runs fn (a rollout over the fleet) under load through HAProxy:
// the load starts, runs until -warm responses came, fn runs, the load runs
// on for -warm more responses, and the sampler records HAProxy's view of
// every host every 50 ms, printing a timeline line every -every.
func (f *fleet) measured(ctx context.Context, step, what, to string, fn func(context.Context, func(string, ...any)) error) (*stepResult, error) {
	fmt.Fprintf(f.out, "\n== %s: %s\n", step, what)
	run, err := load.Start(load.Config{Addr: f.lb.addr, Clients: f.opt.clients, MaxRequests: 50_000_000,
		MaxDuration: f.opt.stepTimeout, KeepAlive: true, Timeout: 10 * time.Second, CountHeader: "X-Served-By"})
	if err != nil {
		return nil, err
	}
	defer run.Stop()
	if !run.WaitFor(func(r load.Report) bool { return r.OK >= f.opt.warm }, f.opt.stepTimeout/4) {
		return nil, fmt.Errorf("%s: the load got fewer than %d responses through haproxy: %v", step, f.opt.warm, run.Snapshot())
	}

	smp := newSampler(f, run)
	smpCtx, stopSampler := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); smp.loop(smpCtx) }()
	begin := time.Now()
	okBefore := run.Snapshot().OK
	rerr := fn(ctx, smp.event)
	took := time.Since(begin)
	okDuring := run.Snapshot().OK - okBefore
	stopSampler()
	wg.Wait()
	if rerr != nil && !errors.Is(rerr, errStopped) {
		return nil, rerr
	}
	okThen := run.Snapshot().OK
	run.WaitFor(func(r load.Report) bool { return r.OK >= okThen+f.opt.warm }, f.opt.stepTimeout/4)
	rep := run.Stop()

	res := &stepResult{Step: step, What: what, To: to, Rollout: took, Requests: rep.Sent, OK: rep.OK,
		Errors: map[string]int{}, ByHostVersion: rep.ByHeader, OutOfRotation: smp.out, Versions: map[string]string{},
		P99: rep.P99}
	for _, c := range load.Classes {
		res.Errors[string(c)] = rep.Errors[c]
	}
	if took > 0 {
		res.CapacityLost = smp.out.Seconds() / (float64(len(f.hosts)) * took.Seconds())
		res.ReqPerSec = float64(okDuring) / took.Seconds()
	}
	for _, h := range f.hosts {
		res.Versions[h.name] = h.serving
	}
	if rerr != nil {
		res.Stopped = strings.TrimPrefix(rerr.Error(), errStopped.Error()+": ")
	}
	f.printResult(res, rep)
	return res, nil
}

// rolloutA is the hot deploy: host by host, install the new binary and run
// "start_server --restart", which returns once the new generation alone is
// running; then a health check on the host itself. The host never leaves
// HAProxy's rotation. The first failure stops the rollout: that host gets
// its previous binary back (its old worker never stopped serving) and the
// hosts after it are not touched.
func (f *fleet) rolloutA(version string, cutOn string) func(context.Context, func(string, ...any)) error {
	return func(ctx context.Context, event func(string, ...any)) error {
		for i, h := range f.hosts {
			prev := h.version
			t0 := time.Now()
			if err := h.deploy(f.artifacts[version], version, h.name == cutOn); err != nil {
				return err
			}
			err := h.restart(ctx)
			if err == nil {
				_, err = h.health(ctx, version, 10*time.Second)
			}
			if err != nil {
				event("%s: %v", h.name, err)
				// Its old worker never stopped serving; put the previous
				// binary back, so that start_server's next try (it retries
				// a failed start with backoff) runs what works.
				if rerr := h.deploy(f.artifacts[prev], prev, false); rerr != nil {
					err = fmt.Errorf("%w; and putting %s back failed: %v", err, prev, rerr)
				} else if _, herr := h.health(ctx, prev, 5*time.Second); herr != nil {
					err = fmt.Errorf("%w; and %v", err, herr)
				}
				return fmt.Errorf("%w: rollout of %s stopped at %s (host %d of %d): %v; now %s",
					errStopped, version, h.name, i+1, len(f.hosts), err, f.versionsLine())
			}
			event("%s: start_server --restart + health check: %s serving after %v", h.name, version, time.Since(t0).Round(time.Millisecond))
		}
		return nil
	}
}

// rolloutB is the usual way without a supervisor that can replace a process
// in place: host by host, drain it in HAProxy, wait for its sessions to
// end, stop its server, install the new binary, start a new server, wait
// until HAProxy's health checks see it up, put it back in rotation.
func (f *fleet) rolloutB(version string) func(context.Context, func(string, ...any)) error {
	return func(ctx context.Context, event func(string, ...any)) error {
		for i, h := range f.hosts {
			t0 := time.Now()
			if err := f.lb.setState(h.name, "drain"); err != nil {
				return err
			}
			if err := f.waitLB(ctx, h.name, func(s serverState) bool { return s.sessions == 0 }, "no sessions"); err != nil {
				return err
			}
			drained := time.Since(t0)
			if err := h.stop(ctx, 45*time.Second); err != nil {
				return err
			}
			if err := h.deploy(f.artifacts[version], version, false); err != nil {
				return err
			}
			if err := h.start(ctx, f.j, 30*time.Second); err != nil {
				return fmt.Errorf("%w: %s at %s (host %d of %d): %v", errStopped, version, h.name, i+1, len(f.hosts), err)
			}
			if err := f.waitLB(ctx, h.name, func(s serverState) bool { return s.up }, "up"); err != nil {
				return err
			}
			if err := f.lb.setState(h.name, "ready"); err != nil {
				return err
			}
			event("%s: drain (%v) + stop + start + health checks + ready: %s serving after %v", h.name,
				drained.Round(time.Millisecond), version, time.Since(t0).Round(time.Millisecond))
		}
		return nil
	}
}

// waitLB polls HAProxy until cond holds for the server, within 30 s.
func (f *fleet) waitLB(ctx context.Context, server string, cond func(serverState) bool, what string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := f.lb.states()
		if err != nil {
			return err
		}
		if cond(st[server]) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: haproxy did not see it %s within 30s (%v, %d sessions)", server, what, st[server], st[server].sessions)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// sampler reads HAProxy's server states every 50 ms during a rollout, adds
// up the time each host is out of rotation, and prints the timeline.
type sampler struct {
	f     *fleet
	run   *load.Run
	begin time.Time
	mu    sync.Mutex // orders timeline and event lines
	out   time.Duration
	last  load.Report
}

func newSampler(f *fleet, run *load.Run) *sampler {
	return &sampler{f: f, run: run, begin: time.Now(), last: run.Snapshot()}
}

func (s *sampler) event(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.f.out, "%6.2fs  %s\n", time.Since(s.begin).Seconds(), fmt.Sprintf(format, args...))
}

func (s *sampler) loop(ctx context.Context) {
	const tick = 50 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	nextLine := time.Now().Add(s.f.opt.every)
	prev := time.Now()
	var st map[string]serverState
	for {
		select {
		case <-ctx.Done():
			s.line(st)
			return
		case now := <-t.C:
			cur, err := s.f.lb.states()
			if err == nil {
				st = cur
				for _, h := range s.f.hosts {
					if !st[h.name].inService() {
						s.out += now.Sub(prev)
					}
				}
			}
			prev = now
			if now.After(nextLine) {
				s.line(st)
				nextLine = nextLine.Add(s.f.opt.every)
			}
		}
	}
}

// line prints one timeline line: responses since the last line by host and
// version, errors by class, and HAProxy's state of each host.
func (s *sampler) line(st map[string]serverState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.run.Snapshot()
	var b strings.Builder
	fmt.Fprintf(&b, "%6.2fs  ok +%-6d err +%-3d", time.Since(s.begin).Seconds(), r.OK-s.last.OK, r.Failed()-s.last.Failed())
	for _, h := range s.f.hosts {
		fmt.Fprintf(&b, " | %s %-5s", h.name, st[h.name])
		for _, k := range sortedKeys(r.ByHeader) {
			if name, ver, _ := strings.Cut(k, " "); name == h.name {
				if d := r.ByHeader[k] - s.last.ByHeader[k]; d > 0 {
					fmt.Fprintf(&b, " %s=%d", ver, d)
				}
			}
		}
	}
	s.last = r
	fmt.Fprintln(s.f.out, b.String())
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (f *fleet) printResult(r *stepResult, rep load.Report) {
	fmt.Fprintf(f.out, "-- %s: rollout %v, %d requests, %d failed (", r.Step, r.Rollout.Round(time.Millisecond), r.Requests, r.failed())
	for i, c := range load.Classes {
		if i > 0 {
			fmt.Fprint(f.out, " ")
		}
		fmt.Fprintf(f.out, "%s=%d", c, r.Errors[string(c)])
	}
	fmt.Fprintf(f.out, "), out of rotation %.2f host·s (%.0f%% of capacity), p99 %v\n",
		r.OutOfRotation.Seconds(), 100*r.CapacityLost, rep.P99.Round(100*time.Microsecond))
	for _, h := range f.hosts {
		fmt.Fprintf(f.out, "   %s:", h.name)
		for _, k := range sortedKeys(r.ByHostVersion) {
			if name, ver, _ := strings.Cut(k, " "); name == h.name {
				fmt.Fprintf(f.out, " %s=%d", ver, r.ByHostVersion[k])
			}
		}
		fmt.Fprintf(f.out, "  (now serving %s)\n", r.Versions[h.name])
	}
	if n := r.ByHostVersion[""]; n > 0 {
		fmt.Fprintf(f.out, "   unattributed: %d\n", n)
	}
	for _, s := range rep.Samples {
		fmt.Fprintf(f.out, "   sample error: %s\n", s)
	}
	if r.Stopped != "" {
		fmt.Fprintf(f.out, "   STOPPED: %s\n", r.Stopped)
	}
}

// printTable prints the comparison of every measured step as Markdown.
func printTable(w io.Writer, rs []*stepResult, hosts, clients int) {
	fmt.Fprintf(w, "\n| step | rollout | requests | req/s during | failed | refused | reset | eof | timeout | non2xx | other | out of rotation | capacity lost | p99 | outcome |\n")
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		outcome := "every host " + r.To
		if r.Stopped != "" {
			outcome = "stopped: " + versionsSummary(r.Versions)
		} else if v := versionsSummary(r.Versions); !strings.HasPrefix(v, "all ") {
			outcome = v
		}
		e := r.Errors
		fmt.Fprintf(w, "| %s | %.2fs | %d | %.0f | %d | %d | %d | %d | %d | %d | %d | %.2f host·s | %.0f%% | %v | %s |\n",
			r.What, r.Rollout.Seconds(), r.Requests, r.ReqPerSec, r.failed(), e["refused"], e["reset"], e["eof"], e["timeout"],
			e["non2xx"], e["other"], r.OutOfRotation.Seconds(), 100*r.CapacityLost, r.P99.Round(100*time.Microsecond), outcome)
	}
	fmt.Fprintf(w, "\n%d hosts, %d keep-alive clients through haproxy during each step\n", hosts, clients)
}

// versionsSummary is "all v2" or "h1 v3, h2 v2, h3 v2".
func versionsSummary(v map[string]string) string {
	names := make([]string, 0, len(v))
	seen := map[string]bool{}
	for n, ver := range v {
		names = append(names, n)
		seen[ver] = true
	}
	sort.Strings(names)
	if len(seen) == 1 {
		return "all " + v[names[0]]
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " " + v[n]
	}
	return strings.Join(parts, ", ")
}
