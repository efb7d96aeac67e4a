//go:build !linux

package proc

import "errors"

// errNoProcFS is returned where Linux's /proc is not available.
var errNoProcFS = errors.New("needs Linux /proc")

// ReadStat needs Linux /proc; see stat_linux.go.
func ReadStat(pid int) (Stat, error) { return Stat{}, errNoProcFS }

// ReadTaskStat needs Linux /proc; see stat_linux.go.
func ReadTaskStat(pid, tid int) (Stat, error) { return Stat{}, errNoProcFS }

// StatFields needs Linux /proc; see stat_linux.go.
func StatFields(pid int) ([]string, error) { return nil, errNoProcFS }
