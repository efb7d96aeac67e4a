package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"hotdeploy/internal/proc"
)

// network is the fleet's private network: a bridge in the root namespace
// with the subnet's first address, and one namespace per host joined to the
// bridge by a veth pair. Every name starts with prefix, which contains the
// driver's PID, so that nothing of another run (or of anyone else) is ever
// touched.
type network struct {
	prefix string
	subnet netip.Prefix
	bridge string // interface name in the root namespace
	gw     netip.Addr
	//lint:ignore U1000 never read, only held: it keeps the lock socket open while the subnet is ours
	lock *net.UnixListener // held while the subnet is ours; see claimSubnet
}

// host i (1-based) lives in namespace nsName(i) at address hostAddr(i).
func (n *network) nsName(i int) string   { return fmt.Sprintf("%s-h%d", n.prefix, i) }
func (n *network) vethName(i int) string { return fmt.Sprintf("%sv%d", n.prefix, i) }
func (n *network) hostAddr(i int) netip.Addr {
	a := n.gw
	for range 9 + i {
		a = a.Next()
	}
	return a
}

// parseSubnet accepts an IPv4 /24 (or smaller prefix length) in private space.
func parseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, fmt.Errorf("-subnet %q: %w", s, err)
	}
	if !p.Addr().Is4() || !p.Addr().IsPrivate() || p.Bits() > 24 || p.Bits() < 16 || p != p.Masked() {
		return p, fmt.Errorf("-subnet %q: want a private IPv4 network between /16 and /24, such as 10.213.77.0/24", s)
	}
	return p, nil
}

// claimSubnet refuses a subnet that any interface address or route of the
// root namespace already overlaps, and holds an abstract unix socket named
// after the subnet so that two fleets started at the same moment cannot both
// take it. The socket needs no file and goes away with the process.
func claimSubnet(ctx context.Context, subnet netip.Prefix) (*net.UnixListener, error) {
	lock, err := net.ListenUnix("unix", &net.UnixAddr{Name: "@hotdeploy-fleet-" + subnet.String(), Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("subnet %s is in use by another fleet run (%w)", subnet, err)
	}
	out, err := ipOut(ctx, "-o", "-4", "addr", "show")
	if err == nil {
		var routes string
		routes, err = ipOut(ctx, "-4", "route", "show", "table", "all")
		out += routes
	}
	if err != nil {
		lock.Close()
		return nil, err
	}
	for _, f := range strings.Fields(out) {
		if p, err := netip.ParsePrefix(f); err == nil && p.Addr().Is4() && p.Overlaps(subnet) {
			lock.Close()
			return nil, fmt.Errorf("subnet %s is in use on this machine (%s); choose another with -subnet", subnet, f)
		}
		if a, err := netip.ParseAddr(f); err == nil && a.Is4() && subnet.Contains(a) {
			lock.Close()
			return nil, fmt.Errorf("subnet %s is in use on this machine (%s); choose another with -subnet", subnet, a)
		}
	}
	return lock, nil
}

// setUp creates the bridge and n host namespaces. Each creation is written
// to the journal before it is made, so that cleanup (even by another
// process, after a crash) removes exactly what this run made.
func (n *network) setUp(ctx context.Context, j *journal, hosts int) error {
	for _, name := range append([]string{n.bridge}, n.vethNames(hosts)...) {
		if _, err := net.InterfaceByName(name); err == nil {
			return fmt.Errorf("interface %s exists already; refusing to touch it", name)
		}
	}
	if err := j.add("link", n.bridge); err != nil {
		return err
	}
	gw := netip.PrefixFrom(n.gw, n.subnet.Bits()).String()
	if err := ipRun(ctx, "link", "add", n.bridge, "type", "bridge"); err != nil {
		return err
	}
	if err := ipRun(ctx, "addr", "add", gw, "dev", n.bridge); err != nil {
		return err
	}
	if err := ipRun(ctx, "link", "set", n.bridge, "up"); err != nil {
		return err
	}
	for i := 1; i <= hosts; i++ {
		ns, veth := n.nsName(i), n.vethName(i)
		if err := j.add("netns", ns); err != nil {
			return err
		}
		if err := ipRun(ctx, "netns", "add", ns); err != nil {
			return err
		}
		if err := j.add("link", veth); err != nil {
			return err
		}
		addr := netip.PrefixFrom(n.hostAddr(i), n.subnet.Bits()).String()
		steps := [][]string{
			{"link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
			{"link", "set", veth, "master", n.bridge, "up"},
			{"-n", ns, "addr", "add", addr, "dev", "eth0"},
			{"-n", ns, "link", "set", "eth0", "up"},
			{"-n", ns, "link", "set", "lo", "up"},
		}
		for _, s := range steps {
			if err := ipRun(ctx, s...); err != nil {
				return err
			}
		}
	}
	return nil
}

func (n *network) vethNames(hosts int) []string {
	var names []string
	for i := 1; i <= hosts; i++ {
		names = append(names, n.vethName(i))
	}
	return names
}

// ipRun runs ip(8) with args and returns its error output as the error.
func ipRun(ctx context.Context, args ...string) error {
	_, err := ipOut(ctx, args...)
	return err
}

func ipOut(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ip", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// checkPrivileges returns the one-line reason the fleet cannot run here, or
// nil: it needs root (to create namespaces and links) and a working
// "ip netns".
func checkPrivileges(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (network namespaces, a bridge and veth links are created): run it with sudo")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New(`needs "ip" from iproute2 (apt-get install iproute2)`)
	}
	if err := ipRun(ctx, "netns", "list"); err != nil {
		return fmt.Errorf(`"ip netns" does not work here: %v`, err)
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		return errors.New("network namespaces are not available on this kernel (/proc/self/ns/net missing)")
	}
	if _, err := exec.LookPath("haproxy"); err != nil {
		return errors.New("needs haproxy (apt-get install haproxy)")
	}
	return nil
}

// processStart is a process's start time in clock ticks since boot (field 22
// of /proc/PID/stat): with the PID it names one process, even after the PID
// was reused.
func processStart(pid int) (string, error) {
	st, err := proc.ReadStat(pid)
	if err != nil {
		return "", err
	}
	return st.StartTime(), nil
}

// killGroupIfSame sends sig to the process group led by pid, but only if pid
// still names the process that started at start.
func killGroupIfSame(pid int, start string, sig syscall.Signal) bool {
	if now, err := processStart(pid); err != nil || now != start {
		return false
	}
	return syscall.Kill(-pid, sig) == nil
}
