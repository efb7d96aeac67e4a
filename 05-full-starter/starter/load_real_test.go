package starter

import (
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"hotdeploy/internal/load"
)

// hupToSignalled sends HUP and returns how long until the starter logs that
// it signals the old workers (KillOldDelay 0: "killing old workers" is
// logged just before the signal goes out).
func hupToSignalled(t *testing.T, p *starterProc) time.Duration {
	t.Helper()
	begin := time.Now()
	p.SignalT(t, syscall.SIGHUP)
	p.waitLine(`^killing old workers$`)
	return time.Since(begin)
}

// READY=1 makes a restart fast: old workers are signalled as soon as the
// new one is ready, not after Interval. Without READY, Interval decides
// (Perl's behaviour). With ReadyTimeout, a slow starter is waited for.
func TestRealReadyMakesRestartFast(t *testing.T) {
	t.Parallel()
	t.Run("READY", func(t *testing.T) {
		t.Parallel()
		p := startStarter(t, Config{Ports: []string{"127.0.0.1:0"}, Command: workerCmd("-notify"), Interval: 10 * time.Second})
		p.waitLine(`is now running`)
		var worst time.Duration
		for range 3 {
			d := hupToSignalled(t, p)
			t.Logf("HUP → old signalled: %v (READY=1, Interval 10s)", d)
			worst = max(worst, d)
		}
		assert.Less(t, worst, 5*time.Second, "driven by READY=1, not by the 10s Interval")
		p.stop()
	})
	t.Run("Interval", func(t *testing.T) {
		t.Parallel()
		p := startStarter(t, Config{Ports: []string{"127.0.0.1:0"}, Command: workerCmd(), Interval: time.Second})
		p.waitLine(`is now running`)
		d := hupToSignalled(t, p)
		t.Logf("HUP → old signalled: %v (no READY, Interval 1s)", d)
		assert.GreaterOrEqual(t, d, 900*time.Millisecond, "a silent worker is judged by Interval")
		p.stop()
	})
	t.Run("slow start with ReadyTimeout", func(t *testing.T) {
		t.Parallel()
		p := startStarter(t, Config{
			Ports: []string{"127.0.0.1:0"}, Command: workerCmd("-notify", "-ready-after", "1500ms"),
			Interval: time.Second, ReadyTimeout: 20 * time.Second,
		})
		addr := p.boundAddr()
		pid1 := p.workerUp(1)
		p.SignalT(t, syscall.SIGHUP)
		begin := time.Now()
		p.waitLine(`^starting new worker \d+$`)
		assert.Equal(t, pid1, get(t, "tcp", addr), "the old worker serves while the new one starts")
		m := p.waitLine(`^new worker \d+ is ready \(READY=1 after (\S+)\)$`)
		p.waitLine(`^killing old workers$`)
		took := time.Since(begin)
		t.Logf("slow worker: READY=1 after %s, old signalled %v after HUP (Interval 1s did not cut it short)", m[1], took)
		assert.GreaterOrEqual(t, took, 1400*time.Millisecond)
		p.stop()
	})
}

// Zero failed requests under load across restarts, keep-alive on and off.
// Not parallel: it wants the machine to itself.
func TestRealZeroErrorsUnderLoad(t *testing.T) {
	for _, keepAlive := range []bool{false, true} {
		t.Run("keepalive="+strconv.FormatBool(keepAlive), func(t *testing.T) {
			p := startStarter(t, Config{Ports: []string{"127.0.0.1:0"}, Command: workerCmd("-notify"), Interval: 10 * time.Second})
			addr := p.boundAddr()
			p.waitLine(`is now running`)
			run, err := load.Start(load.Config{
				Addr: addr, Clients: 50, MaxRequests: 1_000_000, MaxDuration: 60 * time.Second,
				KeepAlive: keepAlive, Timeout: 10 * time.Second,
			})
			require.NoError(t, err)
			ok := run.WaitFor(func(r load.Report) bool { return r.OK >= 300 }, 30*time.Second)
			for gen := 2; ok && gen <= 3; gen++ {
				p.SignalT(t, syscall.SIGHUP)
				ok = run.WaitFor(func(r load.Report) bool { return r.ByGen[gen] >= 1000 }, 30*time.Second)
				// Keep the load on until the old worker has drained and exited.
				p.waitLine(`^old worker \d+ died, status:0$`)
			}
			rep := run.Stop()
			t.Logf("%v; by generation %v", rep, rep.ByGen)
			require.True(t, ok, "load did not reach every generation")
			assert.Equal(t, 0, rep.Failed(), "errors: %v %v", rep.Errors, rep.Samples)
			for gen := 1; gen <= 3; gen++ {
				assert.Positive(t, rep.ByGen[gen], "generation %d served", gen)
			}
			p.stop()
		})
	}
}
