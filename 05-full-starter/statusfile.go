package main

import (
	"fmt"
	"os"
)

// checkStatusFileDir reports a --status-file that cannot be written. The
// status file is replaced atomically (a temporary file beside it, then
// rename), so what must work is creating a file in its directory; this
// probes exactly that with a file of its own, removed at once.
func checkStatusFileDir(statusFile string) error {
	if statusFile == "" {
		return nil
	}
	probe := fmt.Sprintf("%s.probe.%d", statusFile, os.Getpid())
	f, err := os.OpenFile(probe, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("cannot write --status-file %s: %w", statusFile, err)
	}
	f.Close()
	return os.Remove(probe)
}
