package proc

import (
	"fmt"
	"os"
)

// ReadStat reads and parses /proc/PID/stat.
func ReadStat(pid int) (Stat, error) {
	return readStat(fmt.Sprintf("/proc/%d/stat", pid))
}

// ReadTaskStat reads and parses /proc/PID/task/TID/stat: one thread's line
// (its own state: SIGSTOP stops each thread when it next enters the kernel).
func ReadTaskStat(pid, tid int) (Stat, error) {
	return readStat(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
}

func readStat(path string) (Stat, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Stat{}, err
	}
	st, err := ParseStat(data)
	if err != nil {
		return Stat{}, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// StatFields returns the fields of /proc/PID/stat after the command name,
// starting with the state (field 3 of proc(5)): fields[0] is the state,
// fields[1] the parent, fields[2] the process group. It is ReadStat's Rest,
// for the callers that index it.
func StatFields(pid int) ([]string, error) {
	st, err := ReadStat(pid)
	return st.Rest, err
}
