// Package doccheck runs the transcripts in the repository's Markdown files
// and fails when one no longer prints what it shows. Its test, TestDocs,
// is part of `go test ./...`: it checks every *.md of the repository
// (every README*, ANSWERS*, EXERCISES*, docs/*.md, and any translation such
// as README.ja.md) except under testdata and directories starting with _
// or .
//
// # A transcript
//
// A transcript is a fenced block with the info string console. A line
// starting with "$ " is a command; the lines after it, up to the next "$ ",
// are its expected output (stdout and stderr together, as a terminal shows
// them). A command ending in \ continues on the next line. Commands run in
// one bash per file, in order, from the repository root, so variables
// (S=$!), cd and files carry over from block to block.
//
//	```console
//	$ go build -o /tmp/s01 ./01-signals
//	$ curl -s http://127.0.0.1:42941/
//	hello from pid 26902
//	```
//
// A line that is just … stands for any number of lines (also at the start
// or the end); … inside a line stands for any text in that line. Nothing
// else may be left out: every other line must be there, in order.
//
// Commands are the only thing a doc shows that it does not check, so a
// ```sh, ```bash or ```shell block is an error (use ```console), and so is
// a line starting with "$ " in any other block. Output that no command here
// can produce (a throwaway program's, a table put together by hand) goes in
// a ```text block.
//
// # What may differ
//
// Without any marking, these match any value of their shape:
//
//   - PIDs (pid=N, pid N, [pid N], (pid:N), worker N, workers:N, X-Pid: N,
//     LISTEN_PID=N, /proc/N/, kill N, ps's PID and PPID columns, a status
//     file's GEN:PID, an event stream's "data: GEN PID"), ports (127.0.0.1:N, [::1]:N, port N), inodes
//     (socket:[N], pipe:[N], ino:N), temporary names (go-buildN,
//     start_server-N). These are bound: the first time a doc's 26902 meets
//     this run's 31377, every later 26902 in the file — in output and in
//     commands — means 31377, and a different number in the same place is
//     a failure. So `kill -HUP 26902` signals the process started above,
//     and "the same inode before and after" is checked, not just shown.
//   - times (log timestamps, ls -l dates, HTTP Date headers), durations
//     (720µs, 4.5ms, 0.576s, 1m2s), ls -l's owner and group, the load
//     generator's "served by pid|generation: K=N ..." lists, ss's sk:hex,
//     curl's "after N ms", bash's "line N". These match any value.
//
// Anything else must be exactly as shown, except that runs of blanks match
// runs of blanks (columns move when a number's width changes), and numbers
// at the start of a line may gain leading blanks (ps right-aligns them).
//
// The fixed demo port 8080 is replaced, in commands and in
// START_SERVER_DEMO_ADDR, by a free port; in output, 8080 matches it. /tmp
// in a command is a private directory of the run (shown as /tmp again in
// output), and each file runs in its own scratch copy of the repository, so
// a doc can build into /tmp/s01, write files and apply patches without
// touching the real tree or another run.
//
// # Directives
//
// An HTML comment on the line right before the fence says more about the
// block; words combine: <!-- check: output s03 unordered -->.
//
//	skip "why"        not run, and listed with its reason (macOS only, real
//	                  systemd as PID 1, ...). Never for a block that merely fails.
//	background NAME   the block's one command is a server: it is started in
//	                  the background (the first terminal) and the block's
//	                  output must appear from it; later blocks are the second
//	                  terminal. Everything still running at the end of the file
//	                  is killed (SIGKILL to the session's process group).
//	output NAME       a block with output only: the next lines NAME prints
//	                  (waited for, up to the timeout) — what the first terminal
//	                  shows after a signal, say.
//	unordered         the lines may come in any order (two processes writing
//	                  to one terminal). With a … line, other lines may come
//	                  between them (a line one run prints and another does not).
//	vary LABEL...     numbers after these labels vary: "vary requests ok failed"
//	                  accepts "requests 2652 in 205ms: ok 2636, failed 16" for any
//	                  counts (LABEL N, LABEL=N, LABEL: N). "vary *": every number.
//	slow              run only with DOCCHECK_SLOW=1 (see below).
//	timeout 3m        per command (and per wait for background output); default 60s.
//
// # Heavy blocks, and the time budget
//
// A block is heavy when it is marked slow or runs scripts/loadtest.sh,
// scripts/compare-perl.sh or go test: those build and load a stage or run
// a test suite, seconds to minutes each. `go test ./...` does not run them
// (it lists them, with -v), which keeps TestDocs near a minute on 2 cores;
// CI runs everything with DOCCHECK_SLOW=1 (.ci/run). The answers of 01 and
// 02 and 05's EXERCISES-answers.md mark every block slow: they build
// several variants and wait seconds for each, a minute per file. To check
// one file:
//
//	DOCCHECK_SLOW=1 DOCCHECK_FILE=03-fork-exec/README go test -run TestDocs -v ./internal/doccheck
//
// DOCCHECK_FILE takes a comma-separated list of parts of paths. -v also
// lists every block not run, with why. The first difference fails
// the file's subtest with file:line of the doc line, the doc's line and the
// real one, and the command's whole output.
//
// The package also checks the rest of what keeps the docs honest:
// TestStageDiffsAreFresh (each stage's CHANGES.diff is what
// scripts/stagediffs.sh writes, and its README names its size) and
// TestAnswerPatchesApplyExactly (every answers/*.patch applies at the line
// numbers it states, no offset or fuzz), and TestTwins: a translation
// X.ja.md shows exactly the console blocks of X.md, with the same
// directives, in the same order (only the prose is translated), and each
// of the two links the other on the line under its title.
//
// TestJapaneseStyle checks the prose of every *.ja.md against the rules
// docs/glossary.md keeps in its section 表記の決まり: a term has one
// spelling (終了ステータス, not 終了コード), a mark one form (（）, not ( )),
// and the test names the file, the line, the variant and the glossary's
// term. Code spans, fenced blocks, URLs and link targets are not prose.
// It also fails on what renders as a stray space (a line break between
// two Japanese characters, a space after 。) and on a code span broken
// across lines. See style.go.
package doccheck
