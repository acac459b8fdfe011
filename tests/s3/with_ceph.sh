#!/usr/bin/env bash
# with_ceph.sh PROGRAM [ARGS...] [--- PROGRAM [ARGS...]]...
#
# Starts one throwaway Ceph cluster (ceph_fixture.sh) in a temporary directory, runs each
# program against it with RS_S3_ENDPOINT, RS_S3_ACCESS and RS_S3_SECRET set, then stops the
# cluster, also when a program fails or this script is interrupted. The programs print TAP; their
# cases are renumbered into one TAP stream ("ok N - program: case"), so that meson counts every
# case. A program that ends without passing all it planned adds a failing case.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
FIXTURE=$HERE/ceph_fixture.sh
DIR=$(mktemp -d "${TMPDIR:-/tmp}/rs-ceph.XXXXXX") || { echo "Bail out! no temp dir"; exit 1; }

stop() { "$FIXTURE" down "$DIR/cluster" >/dev/null 2>&1; rm -rf "$DIR"; }
trap stop EXIT
trap 'exit 130' INT TERM HUP

if ! line=$("$FIXTURE" up "$DIR/cluster" 2>"$DIR/fixture.err"); then
  echo "Bail out! the Ceph cluster did not start: $(tail -n 3 "$DIR/fixture.err" | tr '\n' ' ')"
  exit 1
fi
set -- "$@" ---
read -r _ RS_S3_ENDPOINT _ RS_S3_ACCESS _ RS_S3_SECRET <<<"$line"
export RS_S3_ENDPOINT RS_S3_ACCESS RS_S3_SECRET
echo "# ceph: $line"

n=0
failed=0
run_one() { # program args...
  local name out rc planned=0 passed=0 l
  name=$(basename "$1")
  out=$DIR/out.$n
  local t0=$SECONDS
  "$@" >"$out" 2>"$DIR/err" </dev/null
  rc=$?
  echo "# $name: $((SECONDS - t0)) s"
  while IFS= read -r l; do
    case $l in
      "ok "*|"not ok "*)
        local status=${l%%ok *}ok desc
        desc=$(sed -E 's/^(not )?ok [0-9]+ ?-? ?//' <<<"$l")
        n=$((n + 1))
        if [ "${l#not }" = "$l" ]; then passed=$((passed + 1)); else failed=1; fi
        echo "${status} $n - $name: $desc"
        ;;
      1..*) planned=${l#1..}; planned=${planned%% *} ;;
      *) echo "# $l" ;;
    esac
  done <"$out"
  sed 's/^/# /' "$DIR/err" >&2
  if ! grep -q '^not ok' "$out" && { [ "$rc" -ne 0 ] || [ "$passed" -lt "$planned" ]; }; then
    n=$((n + 1))
    failed=1
    echo "not ok $n - $name: exited with status $rc after $passed of $planned cases"
  fi
}

args=()
for a in "$@"; do
  if [ "$a" = --- ]; then
    [ ${#args[@]} -gt 0 ] && run_one "${args[@]}"
    args=()
  else
    args+=("$a")
  fi
done
echo "1..$n"
exit $failed
