package load

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestCountsAndAttribution(t *testing.T) {
	addr := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Pid", strconv.Itoa(os.Getpid()))
		w.Header().Set("X-Generation", "7")
		w.Header().Set("X-Version", "v9")
		fmt.Fprintln(w, "ok")
	})
	for _, ka := range []bool{false, true} {
		run, err := Start(Config{Addr: addr, Clients: 4, MaxRequests: 200, MaxDuration: 20 * time.Second, KeepAlive: ka})
		require.NoError(t, err)
		rep := run.Wait()
		assert.Equal(t, 200, rep.Sent, "keepalive=%v", ka)
		assert.Equal(t, 200, rep.OK)
		assert.Equal(t, 0, rep.Failed())
		assert.Equal(t, map[int]int{os.Getpid(): 200}, rep.ByPID)
		assert.Equal(t, map[int]int{7: 200}, rep.ByGen)
		assert.Equal(t, map[string]int{"v9": 200}, rep.ByVer)
		assert.Equal(t, os.Getpid(), rep.FirstPID)
		assert.Positive(t, rep.P50)
		assert.GreaterOrEqual(t, rep.P99, rep.P50)
	}
}

func TestClassifiesRefusedAndNon2xx(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	ln.Close()
	run, err := Start(Config{Addr: closed, Clients: 2, MaxRequests: 10, MaxDuration: 10 * time.Second})
	require.NoError(t, err)
	rep := run.Wait()
	assert.Equal(t, 10, rep.Errors[Refused])
	assert.GreaterOrEqual(t, rep.Elapsed, 5*RefusedPause, "each client paused after each refusal")

	addr := serve(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	run, err = Start(Config{Addr: addr, Clients: 2, MaxRequests: 10, MaxDuration: 10 * time.Second, KeepAlive: true})
	require.NoError(t, err)
	rep = run.Wait()
	assert.Equal(t, 10, rep.Errors[Non2xx])
}

func TestClassifiesEOFAndReset(t *testing.T) {
	// A server that accepts and closes at once: the client sees EOF (or a
	// reset if its request arrived before the close).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	run, err := Start(Config{Addr: ln.Addr().String(), Clients: 2, MaxRequests: 20, MaxDuration: 10 * time.Second})
	require.NoError(t, err)
	rep := run.Wait()
	assert.Equal(t, 20, rep.Errors[EOF]+rep.Errors[Reset], "%v", rep)
	assert.Zero(t, rep.OK)
}

func TestBoundedByTime(t *testing.T) {
	addr := serve(t, func(w http.ResponseWriter, r *http.Request) { time.Sleep(20 * time.Millisecond) })
	run, err := Start(Config{Addr: addr, Clients: 2, MaxRequests: 1 << 30, MaxDuration: 200 * time.Millisecond})
	require.NoError(t, err)
	select {
	case <-run.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("run did not end at MaxDuration")
	}
	assert.Less(t, run.Stop().Sent, 1000)
}

func TestWaitFor(t *testing.T) {
	addr := serve(t, func(w http.ResponseWriter, r *http.Request) {})
	run, err := Start(Config{Addr: addr, Clients: 2, MaxRequests: 100000, MaxDuration: 20 * time.Second})
	require.NoError(t, err)
	assert.True(t, run.WaitFor(func(r Report) bool { return r.OK >= 50 }, 10*time.Second))
	assert.False(t, run.WaitFor(func(r Report) bool { return false }, 20*time.Millisecond))
	run.Stop()
}

func TestRefusesNonLoopback(t *testing.T) {
	for _, a := range []string{"10.0.0.1:80", "example.com:80", "0.0.0.0:80", "nonsense"} {
		_, err := Start(Config{Addr: a, Clients: 1, MaxRequests: 1, MaxDuration: time.Second})
		assert.Error(t, err, a)
	}
	assert.NoError(t, CheckLoopback("[::1]:8080"))
	assert.NoError(t, CheckLoopback("127.0.0.2:8080"))
}

func TestBeginSlowAndFinish(t *testing.T) {
	addr := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Pid", "42")
		w.Write([]byte("."))
		w.(http.Flusher).Flush()
		time.Sleep(50 * time.Millisecond)
		w.Write([]byte("done"))
	})
	f, err := BeginSlow(addr, "/slow", 10*time.Second)
	require.NoError(t, err)
	assert.Equal(t, 42, f.PID)
	rest, err := f.Finish(10 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, "done", rest)
}

func TestCountHeader(t *testing.T) {
	n := 0
	var mu = make(chan struct{}, 1)
	addr := serve(t, func(w http.ResponseWriter, r *http.Request) {
		mu <- struct{}{}
		n++
		odd := n%2 == 1
		<-mu
		if odd {
			w.Header().Set("X-Served-By", "h1 v2")
		}
		fmt.Fprintln(w, "ok")
	})
	run, err := Start(Config{Addr: addr, Clients: 2, MaxRequests: 100, MaxDuration: 20 * time.Second, KeepAlive: true,
		CountHeader: "X-Served-By"})
	require.NoError(t, err)
	rep := run.Wait()
	assert.Equal(t, map[string]int{"h1 v2": 50, "": 50}, rep.ByHeader, "responses without the header count under \"\"")

	run, err = Start(Config{Addr: addr, Clients: 1, MaxRequests: 4, MaxDuration: 20 * time.Second})
	require.NoError(t, err)
	assert.Empty(t, run.Wait().ByHeader, "no CountHeader, no counts")
}
