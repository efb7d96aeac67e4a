package proc

import (
	"os"
	"strconv"
)

// groupMembers lists the live processes whose process group is pgid, by
// reading /proc/PID/stat. Zombies are left out: they are dead, only not yet
// reaped by whoever inherited them.
func groupMembers(pgid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := ReadStat(pid)
		if err == nil && !st.Gone() && st.PGRP() == pgid {
			pids = append(pids, pid)
		}
	}
	return pids
}
