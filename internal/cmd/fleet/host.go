package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"hotdeploy/internal/proc"
)

// workerPort is the port every host's start_server listens on, at the
// host's own address.
const workerPort = 8080

// host is one machine of the fleet: a network namespace running our
// start_server with the example worker. Its files (the deployed binary, pid
// and status files) are in dir, as they would be on a real machine.
type host struct {
	name    string // h1, h2, ...: also its server name in HAProxy
	ns      string
	addr    netip.Addr
	dir     string
	starter string // the start_server binary
	p       *proc.Process
	version string // what its binary is (what the next worker runs)
	serving string // what its worker runs, as the last health check saw it
}

func (h *host) hostPort() string { return netip.AddrPortFrom(h.addr, workerPort).String() }
func (h *host) binary() string   { return filepath.Join(h.dir, "example") }
func (h *host) pidFile() string  { return filepath.Join(h.dir, "pid") }
func (h *host) statusFile() string {
	return filepath.Join(h.dir, "status")
}

// deploy installs artifact as the host's worker binary: a copy next to it,
// then rename, so a worker starting at that moment runs one whole binary or
// the other. With cut, only the first half is copied: a transfer cut short,
// which crashes at start.
func (h *host) deploy(artifact, version string, cut bool) error {
	src, err := os.Open(artifact)
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	tmp := h.binary() + ".new"
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	n := fi.Size()
	if cut {
		n /= 2
	}
	_, err = io.CopyN(dst, src, n)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, h.binary())
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: deploy %s: %w", h.name, version, err)
	}
	h.version = version
	return nil
}

// start runs start_server in the host's namespace ("ip netns exec" execs it:
// same PID) and waits until its first worker is listed in the status file
// and answers a health check.
func (h *host) start(ctx context.Context, j *journal, timeout time.Duration) error {
	cmd := exec.Command("ip", "netns", "exec", h.ns, h.starter,
		"--port", h.hostPort(),
		"--pid-file", h.pidFile(), "--status-file", h.statusFile(),
		"--ready-timeout", "10",
		"--", h.binary())
	p, err := proc.StartCmd(cmd)
	if err != nil {
		return fmt.Errorf("%s: %w", h.name, err)
	}
	h.p = p
	if st, err := processStart(p.PID()); err == nil {
		_ = j.add("pid", strconv.Itoa(p.PID()), st)
	}
	deadline := time.Now().Add(timeout)
	for {
		if b, err := os.ReadFile(h.statusFile()); err == nil && len(b) > 0 {
			break
		}
		select {
		case <-p.Done():
			return fmt.Errorf("%s: start_server exited at start:\n%s", h.name, p.Output())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no worker running within %v:\n%s", h.name, timeout, p.Output())
		}
	}
	_, err = h.health(ctx, h.version, time.Until(deadline))
	return err
}

// restart is "start_server --restart": HUP, then wait until only a newer
// generation is listed. It fails if the new worker failed to start (the old
// one keeps serving). It blocks until then.
func (h *host) restart(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, h.starter, "--restart", "--pid-file", h.pidFile(), "--status-file", h.statusFile()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("start_server --restart: %s", oneLine(out, err))
	}
	return nil
}

// stop is "start_server --stop": TERM, then wait until it has exited (its
// workers drained first).
func (h *host) stop(ctx context.Context, timeout time.Duration) error {
	if h.p == nil {
		return nil
	}
	out, err := exec.CommandContext(ctx, h.starter, "--stop", "--pid-file", h.pidFile()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("start_server --stop: %s", oneLine(out, err))
	}
	if _, err := h.p.Wait(timeout); err != nil {
		return fmt.Errorf("%s: start_server did not exit: %w", h.name, err)
	}
	h.p = nil
	return nil
}

// kill ends start_server and its workers: TERM (they drain), then KILL to
// the group after grace.
func (h *host) kill(grace time.Duration) {
	if h.p == nil {
		return
	}
	if _, err := h.p.Stop(grace); err != nil {
		h.p.KillGroup()
	}
	h.p = nil
}

// health asks the host itself (not through HAProxy) for GET / until a
// worker of version want answers, or timeout. It returns the worker's PID.
func (h *host) health(ctx context.Context, want string, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		pid, ver, err := get(ctx, h.hostPort())
		if err == nil && ver == want {
			h.serving = ver
			return pid, nil
		}
		if err == nil {
			err = fmt.Errorf("version %s answered", ver)
		}
		last = err
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s: health check: no %s within %v: %w", h.name, want, timeout, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get sends one GET / to addr (an address of this fleet's subnet; see
// checkFleetAddr) and returns the X-Pid and X-Version of a 200 response.
func get(ctx context.Context, addr string) (int, string, error) {
	if err := checkFleetAddr(addr); err != nil {
		return 0, "", err
	}
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", addr); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, "", fmt.Errorf("status %d", resp.StatusCode)
	}
	pid, _ := strconv.Atoi(resp.Header.Get("X-Pid"))
	return pid, resp.Header.Get("X-Version"), nil
}

// fleetSubnet is the subnet this run created; get refuses anything else.
// The driver sends traffic only to loopback (the load, through HAProxy) and
// to the namespaces it created (the health checks).
var fleetSubnet netip.Prefix

func checkFleetAddr(addr string) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return fmt.Errorf("health check address %q: %w", addr, err)
	}
	if !fleetSubnet.IsValid() || !fleetSubnet.Contains(ap.Addr()) {
		return fmt.Errorf("%s is not in this fleet's subnet %v; refusing to send traffic there", ap.Addr(), fleetSubnet)
	}
	return nil
}

// oneLine makes a command's output and error into one line for a message.
func oneLine(out []byte, err error) string {
	s := strings.Join(strings.Fields(strings.ReplaceAll(string(out), "start_server: ", "")), " ")
	var ee *exec.ExitError
	if errors.As(err, &ee) && s != "" {
		return s
	}
	if s == "" {
		return err.Error()
	}
	return s + " (" + err.Error() + ")"
}
