// Package starter is the supervisor of start_server: 04's master, grown
// into a tool. It binds the listening sockets once, starts the worker
// command with those sockets inherited, and on SIGHUP starts a new worker
// and retires the old one without ever closing the sockets, so that no
// client is refused during a deploy. Workers speak Server::Starter's
// protocol (SERVER_STARTER_PORT, SERVER_STARTER_GENERATION) and may say
// READY=1 on their NOTIFY_SOCKET. What goes beyond Server::Starter for
// systemd is in the subpackage systemd; a first reading can skip it.
//
// The files, in reading order:
//
//	run.go       Run: validate, pid file, bind, supervise, clean up
//	loop.go      the supervisor: one goroutine, one select, a worker's states
//	worker.go    start a worker: one fork+exec with the sockets, reap it
//	readiness.go each worker's NOTIFY_SOCKET, READY=1 into the loop
//	env.go       the worker's environment; --envdir
//	sockets.go   --port/--path specs, which fd a worker gets for each socket
//	bind.go      socket, bind, listen
//	files.go     the pid file and the status file
//	client.go    --restart and --stop
//	validate.go  what is refused before anything is bound or started
//	config.go, os.go, signals.go, strayfds.go: the Config, the OS seam, signal names, stray fds
//
// One HUP with the defaults (config.go: Interval 1s, ReadyTimeout 0,
// Probation 1s, KillOldDelay 0, KillTimeout 30s, SignalOnHUP TERM) and a
// worker that says READY=1 within the Interval (later, the Interval has
// made it current already), as the loop handles it (log lines in quotes):
//
//  1. loop receives SIGHUP from sigC and calls onSignal → restart →
//     startWorker: "received HUP, spawning a new worker".
//  2. startWorker calls s.os.start, which is launcher.start (worker.go; the
//     OS seam, os.go, lets tests put fakes there): the envdir, if any, is
//     re-read, a NOTIFY_SOCKET made (readiness.listen), the environment built
//     (workerEnv), and the worker started with the sockets on fds 3, 4, …;
//     a goroutine waits for it. The worker is pending, stStarting:
//     "starting new worker PID".
//  3. The worker sends READY=1; readiness's goroutine passes it to the loop
//     (its eventC is the loop's notifyC), and onNotify puts it on probation
//     (stProbation): "new worker PID is ready (READY=1 after …); the old
//     generation is signalled after a probation of 1s". Both serve now.
//  4. The probation's deadline fires (nextDeadline, onTimer) and promote
//     makes the new worker current and the old one stOld, with signalAt =
//     now + KillOldDelay: "new worker is now running, sending TERM to old
//     workers:PID". With KillOldDelay 0, promote's call of signalDueOld
//     sends the SIGTERM at once ("killing old workers"); signal starts the
//     old worker's KillTimeout (stSignalled, SIGKILL at killAt).
//  5. The old worker says STOPPING=1 as it starts draining ("worker PID is
//     stopping", onNotify), drains (listener.Serve) and exits; its goroutine
//     sends the exit on exitC and onExit removes it: "old worker PID died,
//     status:0".
//
// In 04's master the same happens in one select: SIGHUP → startWorker, then
// stop(current) at once; exitC → delete from live; killC → SIGKILL. What 05
// adds to that loop, one idea each:
//
//   - readiness: the old worker is signalled when the new one said READY=1
//     (or, silent, is alive after --interval), not right after fork;
//   - probation: a new worker that dies soon after READY=1 is a failed start,
//     and the old generation, never signalled, keeps serving;
//   - failed starts are retried with backoff (1 s doubling to 30 s), a HUP
//     while one starts is queued, not lost;
//   - --kill-old-delay, --kill-timeout and auto-restart are deadlines, all
//     computed in one place (nextDeadline) and acted on by onTimer: the loop
//     never blocks, and tests drive it with a fake clock (os.go,
//     loop_test.go).
//
// System calls go through golang.org/x/sys/unix; in this package, syscall
// appears only for the types the standard library takes (syscall.Signal,
// syscall.WaitStatus, syscall.ForkLock).
package starter
