#!/usr/bin/env bash
# Write each stage's CHANGES.diff: `diff -u` of main.go and main_test.go
# against the previous stage (02 against 01, 03 against 02, 04 against 03).
# Stage 05 is not a copy of 04 (it is a tool in many files), so it has none.
#
#   scripts/stagediffs.sh          # (re)write 02-…/CHANGES.diff … 04-…/CHANGES.diff
#   scripts/stagediffs.sh -check   # exit 1 naming every CHANGES.diff that is stale
set -euo pipefail
cd "$(dirname "$0")/.."

stages=(01-signals 02-fd-inheritance 03-fork-exec 04-graceful-shutdown)
check=0
case "${1:-}" in
  "") ;;
  -check) check=1 ;;
  *) echo "usage: scripts/stagediffs.sh [-check]" >&2; exit 2 ;;
esac

# changes PREV CUR prints the diff of CUR against PREV.
changes() {
  local prev=$1 cur=$2 f rc
  for f in main.go main_test.go; do
    rc=0
    diff -u --label "$prev/$f" --label "$cur/$f" "$prev/$f" "$cur/$f" || rc=$?
    if [ "$rc" -gt 1 ]; then
      echo "stagediffs: diff $prev/$f $cur/$f failed" >&2
      exit 1
    fi
  done
}

stale=0
for ((i = 1; i < ${#stages[@]}; i++)); do
  prev=${stages[i-1]} cur=${stages[i]}
  if [ "$check" -eq 1 ]; then
    if ! changes "$prev" "$cur" | cmp -s - "$cur/CHANGES.diff"; then
      echo "stale: $cur/CHANGES.diff (run scripts/stagediffs.sh)" >&2
      stale=1
    fi
  else
    changes "$prev" "$cur" >"$cur/CHANGES.diff"
    echo "$cur/CHANGES.diff: $(wc -l <"$cur/CHANGES.diff") lines"
  fi
done
exit "$stale"
