package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// journal is the list of everything a run created, one "KIND VALUE [START]"
// line each, written (and synced) *before* the thing is created: namespaces
// ("netns NAME"), links ("link NAME") and process groups ("pid PID START",
// START from processStart). cleanup undoes it in reverse order, touching
// only what is listed, so it is safe to run again, or from another process
// (scripts/fleet.sh's trap runs "fleet cleanup" after the driver exits,
// whatever way it exited).
type journal struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

func openJournal(dir string) (*journal, error) {
	path := filepath.Join(dir, "journal")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &journal{path: path, f: f}, nil
}

func (j *journal) add(kind string, values ...string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := fmt.Fprintf(j.f, "%s %s\n", kind, strings.Join(values, " ")); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return j.f.Sync()
}

func (j *journal) close() { j.f.Close() }

type entry struct{ kind, value, start string }

func readJournal(path string) ([]entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var es []entry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		e := entry{kind: fs[0], value: fs[1]}
		if len(fs) > 2 {
			e.start = fs[2]
		}
		es = append(es, e)
	}
	return es, sc.Err()
}

// cleanup undoes the journal at path: process groups get SIGTERM, then
// SIGKILL after grace; namespaces and links still present are deleted. It
// reports what it removed on logf and returns the first error. A missing
// journal means nothing was created.
func cleanup(path string, grace time.Duration, logf func(string, ...any)) error {
	es, err := readJournal(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	slices.Reverse(es)
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	// Processes first: a namespace can be deleted while processes are in
	// it, and they would go on running in it unseen.
	var live []entry
	for _, e := range es {
		if e.kind != "pid" {
			continue
		}
		pid, err := strconv.Atoi(e.value)
		if err != nil {
			continue
		}
		if killGroupIfSame(pid, e.start, syscall.SIGTERM) {
			logf("cleanup: TERM to process group %d", pid)
			live = append(live, e)
		}
	}
	deadline := time.Now().Add(grace)
	for _, e := range live {
		pid, _ := strconv.Atoi(e.value)
		for time.Now().Before(deadline) && groupAlive(pid) {
			time.Sleep(20 * time.Millisecond)
		}
		if groupAlive(pid) {
			logf("cleanup: KILL to process group %d", pid)
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nsList, err := ipOut(ctx, "netns", "list")
	keep(err)
	for _, e := range es {
		switch e.kind {
		case "netns":
			if present(nsList, e.value) {
				keep(ipRun(ctx, "netns", "del", e.value))
				logf("cleanup: deleted namespace %s", e.value)
			}
		case "link":
			if _, err := ipOut(ctx, "link", "show", "dev", e.value); err == nil {
				keep(ipRun(ctx, "link", "del", "dev", e.value))
				logf("cleanup: deleted link %s", e.value)
			}
		}
	}
	return first
}

func present(list, name string) bool {
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}

// groupAlive reports whether any process of group pgid still exists.
func groupAlive(pgid int) bool {
	return syscall.Kill(-pgid, 0) == nil
}
