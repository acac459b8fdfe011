#!/usr/bin/env bash
# Benchmark: upload one file (1 GiB by default) over loopback to the same resumable-serve with
#   1. resumable-upload (hashes the file first, then uploads),
#   2. resumable-upload --sha256 HEX (the hash given: upload only),
#   3. curl -T (one whole-file PUT, no resume logic),
# and print the times, the ratios to curl, and the hashing time (run 1 - run 2, and a
# hashing-only pass by sha256sum for reference). Each run uses a new key; stored copies are
# deleted between runs. Not part of `meson test`; run by hand:
#
#   bash bench/upload.sh [SIZE_MIB]        (BUILD_DIR=build, BENCH_DIR=$TMPDIR or /tmp)
set -euo pipefail

cd "$(dirname "$0")/.."
SIZE_MIB=${1:-1024}
BUILD=${BUILD_DIR:-build}
SERVE=$PWD/$BUILD/examples/serve/resumable-serve
UPLOAD=$PWD/$BUILD/examples/upload/resumable-upload
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null
ninja -C "$BUILD" >/dev/null
[ -x "$SERVE" ] && [ -x "$UPLOAD" ] || { echo "build resumable-serve and resumable-upload first"; exit 1; }

WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/resumable-bench.XXXXXX")
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
  return 0
}
trap cleanup EXIT

"$SERVE" --root "$WORK/root" --port 0 >"$WORK/serve.out" 2>/dev/null &
SERVER_PID=$!
for _ in $(seq 100); do
  grep -q '^listening on http://' "$WORK/serve.out" && break
  sleep 0.1
done
BASE=$(sed -n 's/^listening on \(http:\/\/[^ ]*\)\/$/\1/p' "$WORK/serve.out" | head -1)
[ -n "$BASE" ] || { echo "resumable-serve did not start"; exit 1; }

FILE=$WORK/bench.bin
echo "generating ${SIZE_MIB} MiB..."
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$FILE"
cat "$FILE" >/dev/null # warm the page cache so every run reads from memory

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
drop() { curl -sS -o /dev/null -X DELETE "$BASE/v1/files/$1"; }

t0=$(now)
SHA=$(sha256sum "$FILE" | cut -d' ' -f1)
t_sha256sum=$(elapsed "$t0" "$(now)")

t0=$(now)
"$UPLOAD" --quiet "$FILE" "$BASE/v1/files/run1"
t_hash_upload=$(elapsed "$t0" "$(now)")
drop run1

t0=$(now)
"$UPLOAD" --quiet --sha256 "$SHA" "$FILE" "$BASE/v1/files/run2"
t_upload=$(elapsed "$t0" "$(now)")
drop run2

t0=$(now)
code=$(curl -sS -o /dev/null -w '%{http_code}' -T "$FILE" "$BASE/v1/files/run3")
t_curl=$(elapsed "$t0" "$(now)")
[ "$code" = 200 ] || { echo "curl -T got HTTP $code"; exit 1; }
drop run3

printf '\nfile: %s MiB over loopback to resumable-serve (%s)\n' "$SIZE_MIB" "$BASE"
printf '%-44s %8.2f s\n' "resumable-upload (hash + upload)" "$t_hash_upload"
printf '%-44s %8.2f s\n' "resumable-upload --sha256 (upload only)" "$t_upload"
printf '%-44s %8.2f s\n' "curl -T (whole-file PUT)" "$t_curl"
printf '%-44s %8.2f s\n' "hashing by the stager (run 1 - run 2)" \
  "$(elapsed "$t_upload" "$t_hash_upload")"
printf '%-44s %8.2f s\n' "sha256sum of the file, for reference" "$t_sha256sum"
printf '%-44s %8.2f\n' "ratio upload-only / curl" "$(ratio "$t_upload" "$t_curl")"
printf '%-44s %8.2f\n' "ratio hash+upload / curl" "$(ratio "$t_hash_upload" "$t_curl")"
