package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// "fleet up" keeps the fleet running in the foreground until Ctrl-C and
// takes steps from other invocations ("fleet fail", then "fleet rollback")
// on a control socket: an abstract unix socket named after the subnet, so it
// needs no file and vanishes with the process. Only root may send steps (the
// peer's credentials are checked). One command at a time; its output goes
// to the sender and to the terminal of "fleet up".

const exitMarker = "fleet-exit: "

func controlName(subnet netip.Prefix) string { return "@hotdeploy-fleet-ctl-" + subnet.String() }

// serve accepts commands until ctx is done. It blocks until then.
func (f *fleet) serve(ctx context.Context, subnet netip.Prefix) error {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: controlName(subnet), Net: "unix"})
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	go func() { <-ctx.Done(); ln.Close() }()
	fmt.Fprintf(f.out, "\nfleet is up (v1 everywhere). In another terminal, as root: scripts/fleet.sh a | b | fail | rollback ...\n")
	fmt.Fprintf(f.out, "Ctrl-C here stops the fleet and removes everything it created.\n")
	for {
		conn, err := ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("control socket: %w", err)
		}
		f.handle(ctx, conn)
		if ctx.Err() != nil {
			return nil
		}
	}
}

func (f *fleet) handle(ctx context.Context, conn *net.UnixConn) {
	defer conn.Close()
	if uid, err := peerUID(conn); err != nil || uid != 0 {
		fmt.Fprintf(conn, "fleet: only root may send steps\n%s1\n", exitMarker)
		return
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return
	}
	steps := strings.Fields(line)
	for _, s := range steps {
		if s != "a" && s != "b" && s != "fail" && s != "rollback" {
			fmt.Fprintf(conn, "fleet: unknown step %q\n%s2\n", s, exitMarker)
			return
		}
	}
	stdout := f.out
	f.out = io.MultiWriter(stdout, conn)
	defer func() { f.out = stdout }()
	fmt.Fprintf(stdout, "\n>>> steps from another terminal: %s\n", strings.Join(steps, " "))
	results, err := f.runStepList(ctx, steps)
	if len(results) > 0 {
		printTable(f.out, results, f.opt.hosts, f.opt.clients)
	}
	code := 0
	switch {
	case err != nil:
		fmt.Fprintf(f.out, "fleet: %v\n", err)
		code = 1
	case !allSame(f.versions()):
		fmt.Fprintf(f.out, "fleet: %s\n", results[len(results)-1].Stopped)
		code = 1
	}
	fmt.Fprintf(conn, "%s%d\n", exitMarker, code)
}

// sendSteps hands the steps to a fleet that is up on subnet, copies its
// output to stdout and returns its exit status. ok is false when no fleet is
// up there (the caller then runs a fleet of its own).
func sendSteps(ctx context.Context, subnet netip.Prefix, steps []string) (code int, ok bool) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", controlName(subnet))
	if err != nil {
		return 0, false
	}
	defer conn.Close()
	go func() { <-ctx.Done(); conn.Close() }()
	fmt.Fprintf(os.Stderr, "fleet: sending %q to the fleet that is up on %s\n", strings.Join(steps, " "), subnet)
	if _, err := fmt.Fprintf(conn, "%s\n", strings.Join(steps, " ")); err != nil {
		fmt.Fprintf(os.Stderr, "fleet: %v\n", err)
		return 1, true
	}
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		line := sc.Text()
		if rest, found := strings.CutPrefix(line, exitMarker); found {
			n, _ := strconv.Atoi(rest)
			return n, true
		}
		fmt.Println(line)
	}
	fmt.Fprintf(os.Stderr, "fleet: the fleet that is up closed the connection before the steps ended\n")
	return 1, true
}
