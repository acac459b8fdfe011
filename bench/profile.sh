#!/usr/bin/env bash
# bench/profile.sh: where resumable-serve spends its instructions on the verified-ingest hot
# path. Runs it under `valgrind --tool=callgrind` for one Content-Range PUT with a bound hash
# (64 MiB by default) and prints the top functions, self and inclusive.
#
#   bench/profile.sh [MiB]     (BUILD_DIR=build-bench, BENCH_DIR=$TMPDIR or /tmp)
#
# Under valgrind the CPU's SHA extensions may not be offered (valgrind's CPUID): the line
# "sha256 path" below says which SHA-256 path the server took.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MIB=${1:-64}
BUILD=${BUILD_DIR:-$ROOT/build-bench}
command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null ||
  { echo "profile.sh: valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" --buildtype=release >/dev/null || exit 1
ninja -C "$BUILD" >/dev/null || exit 1
SERVE=$BUILD/examples/serve/resumable-serve
WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/resumable-profile.XXXXXX") || exit 1
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT

head -c $((MIB * 1024 * 1024)) /dev/urandom >"$WORK/file"
SHA=$(openssl dgst -sha256 -r "$WORK/file" | cut -c1-64)
N=$((MIB * 1024 * 1024))
valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" \
  "$SERVE" --root "$WORK/root" --port 0 >"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 600); do grep -q '^listening' "$WORK/out" && break; sleep 0.1; done
PORT=$(sed -n 's/^listening on http:\/\/.*:\([0-9]*\)\/$/\1/p' "$WORK/out")
[ -n "$PORT" ] || { echo "resumable-serve did not start under valgrind" >&2; cat "$WORK/err" >&2; exit 1; }
echo "verified PUT of $MIB MiB under callgrind..." >&2
curl -sS -o /dev/null -w 'HTTP %{http_code} in %{time_total} s\n' -T "$WORK/file" \
  -H "Content-Range: bytes 0-$((N - 1))/$N" -H "X-Content-SHA256: $SHA" \
  "http://127.0.0.1:$PORT/v1/files/profile"
kill -TERM "$PID"
wait "$PID"
PID=""
echo
echo "== self (exclusive) instructions, top 25"
callgrind_annotate --threshold=100 --inclusive=no "$WORK/callgrind.out" 2>/dev/null | sed -n '/^Ir/,$p' | grep -v '^ *$' | head -30
echo
echo "== inclusive instructions, top 25"
callgrind_annotate --threshold=100 --inclusive=yes "$WORK/callgrind.out" 2>/dev/null | sed -n '/^Ir/,$p' | head -30
echo
echo "sha256 path: $(callgrind_annotate --threshold=100 --inclusive=yes "$WORK/callgrind.out" 2>/dev/null |
  grep -o 'rs_sha256_compress_[a-z0-9_]*' | sort -u | tr '\n' ' ')"
