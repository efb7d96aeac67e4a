package listener

import "os"

// The environment variables this package reads.
const (
	envServerStarterPort = "SERVER_STARTER_PORT"
	envListenFDs         = "LISTEN_FDS"
	envListenPID         = "LISTEN_PID"
	envListenFDNames     = "LISTEN_FDNAMES"
	envNotifySocket      = "NOTIFY_SOCKET"
)

// osEnv is the seam between this package and the process environment: the
// real calls live here, tests substitute fakes.
type osEnv struct {
	lookup func(key string) (string, bool)
	unset  func(key string) error
	getpid func() int
}

// realEnv is the process's own environment.
var realEnv = osEnv{lookup: os.LookupEnv, unset: os.Unsetenv, getpid: os.Getpid}
