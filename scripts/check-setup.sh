#!/usr/bin/env bash
# Check that this machine can run the workshop: one line per item, then a
# verdict. Send it to the participants before the session:
#
#   scripts/check-setup.sh
#
# OK       found and good enough
# MISSING  needed for the session; the line says how to get it
# optional not needed; the line says what it is for
# note     something to know (e.g. the demo's port is taken)
#
# Last, it builds stage 01, starts it on a free loopback port, sends it one
# request and SIGTERM: that is the whole workshop in miniature. Exit status 0
# when nothing is MISSING. Bounded: every wait has a deadline. Runs with the
# bash 3.2 of macOS too.
#
# It speaks Japanese under a Japanese locale: the first of LC_ALL,
# LC_MESSAGES and LANG that is set (the order in which the C library looks
# for the language of messages) starting with ja, e.g. LANG=ja_JP.UTF-8.
# The labels are then OK, 不足 (MISSING), 任意 (optional) and 注意 (note).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

lang=${LC_ALL:-${LC_MESSAGES:-${LANG:-}}}
case $lang in
ja*) ja=1 ;;
*) ja=0 ;;
esac
# t EN JA: the message in the user's language.
t() { if [ "$ja" = 1 ]; then printf '%s' "$2"; else printf '%s' "$1"; fi; }

missing=0
# The labels are 9 columns wide; a Japanese character takes two.
ok() { printf 'OK       %s\n' "$*"; }
miss() { printf '%s%s\n' "$(t 'MISSING  ' '不足     ')" "$*"; missing=$((missing + 1)); }
opt() { printf '%s%s\n' "$(t 'optional ' '任意     ')" "$*"; }
note() { printf '%s%s\n' "$(t 'note     ' '注意     ')" "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

os=$(uname -s)
case $os in
Linux | Darwin) ok "$(t system システム): $os" ;;
*) miss "$(t "system: $os (the workshop needs Linux or macOS; on Windows use WSL 2)" "システム: $os（Linux か macOS が必要です。Windows では WSL 2 を使ってください）")" ;;
esac

# Go: go.mod's floor.
need_minor=24
if have go; then
	v=$(go env GOVERSION 2>/dev/null) # go1.24.3, go1.26rc1
	minor=$(printf '%s\n' "$v" | sed -n 's/^go1\.\([0-9][0-9]*\).*/\1/p')
	if [ -n "$minor" ] && [ "$minor" -ge "$need_minor" ]; then
		ok "$(t "go: $v (1.$need_minor or newer)" "go: $v（1.$need_minor 以降）")"
	else
		miss "$(t "go: $v is too old; install Go 1.$need_minor or newer from https://go.dev/dl/" "go: $v は古すぎます。Go 1.$need_minor 以降を https://go.dev/dl/ からインストールしてください")"
	fi
else
	miss "$(t "go: not found; install Go 1.$need_minor or newer from https://go.dev/dl/" "go: 見つかりません。Go 1.$need_minor 以降を https://go.dev/dl/ からインストールしてください")"
fi

if have curl; then ok "curl"; else miss "$(t "curl: to send requests by hand (apt-get install curl)" "curl: 手でリクエストを送るのに使います（apt-get install curl）")"; fi

if [ "$os" = Linux ]; then
	if have ss; then ok "$(t "ss: to see listening sockets and accept queues" "ss: listen ソケットと accept キューを見るのに使います")"; else miss "ss: apt-get install iproute2"; fi
	if [ -d /proc/self/fd ]; then ok "$(t "/proc: to look at a process's fds (ls -l /proc/PID/fd)" "/proc: プロセスの fd を見るのに使います（ls -l /proc/PID/fd）")"; else miss "$(t "/proc is not mounted" "/proc がマウントされていません")"; fi
else
	if have lsof; then ok "$(t "lsof: stands in for /proc and ss on macOS" "lsof: macOS で /proc と ss の代わりに使います")"; else miss "$(t "lsof: it ships with macOS; is PATH cut down?" "lsof: macOS に付属しているはずです。PATH が削られていませんか？")"; fi
fi

if have start_server; then
	ok "$(t "start_server (Perl): stage 05's comparison and interop test" "start_server（Perl）: ステージ 05 の比較と相互運用のテストに使います")"
else
	opt "$(t "start_server (Perl): only for stage 05's comparison with the original (apt-get install libserver-starter-perl)" "start_server（Perl）: ステージ 05 で本家と比べるときだけ使います（apt-get install libserver-starter-perl）")"
fi
if [ "$os" = Linux ]; then
	if have systemd-socket-activate; then
		ok "$(t "systemd-socket-activate: stage 05's socket activation tests" "systemd-socket-activate: ステージ 05 のソケットアクティベーションのテストに使います")"
	else
		opt "$(t "systemd-socket-activate: stage 05's socket activation tests skip without it (apt-get install systemd)" "systemd-socket-activate: ないとステージ 05 のソケットアクティベーションのテストはスキップされます（apt-get install systemd）")"
	fi
fi
if have tmux; then ok "$(t "tmux: two terminals side by side" "tmux: 2 つのターミナルを並べて使えます")"; else opt "$(t "tmux: handy for two terminals side by side" "tmux: 2 つのターミナルを並べるのに便利です")"; fi

# The address the 05 demo listens on when started without arguments
# (START_SERVER_DEMO_ADDR overrides it, as for the demo). Only a connect to
# loopback: is someone listening there?
demo=${START_SERVER_DEMO_ADDR:-127.0.0.1:8080}
if (exec 3<>"/dev/tcp/${demo%:*}/${demo##*:}") 2>/dev/null; then
	note "$(t "port $demo is in use: 'go run ./05-full-starter' will fail until it is free (docs/facilitator.md, troubleshooting)" "ポート $demo は使用中です。空くまで 'go run ./05-full-starter' は失敗します（docs/facilitator.ja.md のトラブルシューティング）")"
else
	ok "$(t "port $demo is free (the 05 demo's default)" "ポート $demo は空いています（05 のデモのデフォルト）")"
fi

# The workshop in miniature: build stage 01, serve one request, stop it.
if have go; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	if ! go build -o "$tmp/s01" ./01-signals >"$tmp/build.log" 2>&1; then
		miss "$(t "build: go build ./01-signals failed (module download blocked? try 'go mod download'):" "ビルド: go build ./01-signals が失敗しました（モジュールのダウンロードが遮られている？ 'go mod download' を試してください）:")"
		sed 's/^/         /' "$tmp/build.log"
	else
		# Created before the server starts: the redirect below is done by the
		# background job, which the loop reading the file may outrun.
		: >"$tmp/out"
		"$tmp/s01" -addr 127.0.0.1:0 >"$tmp/out" 2>&1 &
		pid=$!
		addr=""
		for _ in $(seq 1 100); do # up to 10 s
			addr=$(sed -n 's/^listening on \([^ ]*\) .*/\1/p' "$tmp/out")
			[ -n "$addr" ] && break
			sleep 0.1
		done
		body=""
		if [ -n "$addr" ] && have curl; then
			body=$(curl -sS -m 5 "http://$addr/" 2>&1)
		fi
		kill -TERM "$pid" 2>/dev/null
		wait "$pid"
		code=$?
		case $body in
		"hello from pid $pid") body_ok=1 ;;
		*) body_ok=0 ;;
		esac
		if [ -n "$addr" ] && [ "$body_ok" = 1 ] && [ "$code" = 0 ]; then
			ok "$(t "stage 01: built, served a request on loopback, stopped by SIGTERM with exit status 0" "ステージ 01: ビルドし、ループバックでリクエストに応答し、SIGTERM で終了ステータス 0 で止まりました")"
		else
			miss "$(t "stage 01 did not run as expected (address '$addr', response '$body', exit status $code):" "ステージ 01 が想定どおりに動きませんでした（アドレス '$addr'、レスポンス '$body'、終了ステータス $code）:")"
			sed 's/^/         /' "$tmp/out"
		fi
	fi
fi

if [ "$missing" -eq 0 ]; then
	t "ready for the workshop" "ワークショップの準備ができています"
	echo
	exit 0
fi
t "$missing missing: fix the MISSING lines before the session" "不足が $missing 件: 勉強会までに「不足」の行を解決してください"
echo
exit 1
