#!/usr/bin/env bash
# The README's demo: on a fresh Debian 12 machine, as root, from a clone of the repository:
#
#   bash examples/demo.sh
#
# It installs the build dependencies, builds (reusing ./build if it exists), starts
# resumable-serve on an ephemeral port over a temporary root, generates a 256 MiB file, starts
# resumable-upload at 32 MiB/s so you can watch it, interrupts it part-way with SIGINT, shows how
# many bytes the server holds, runs the upload again (it resumes from there), and compares the
# SHA-256 of the local and the stored file. Prints PASS or FAIL; exits non-zero on failure.
# Safe to run again: every run uses fresh temporary directories, removed on exit.
#
# Environment: DEMO_SIZE_MIB (default 256), DEMO_RATE (default 32M), BUILD_DIR (default build).
set -euo pipefail

cd "$(dirname "$0")/.."
SIZE_MIB=${DEMO_SIZE_MIB:-256}
RATE=${DEMO_RATE:-32M}
BUILD=${BUILD_DIR:-build}
SIZE=$((SIZE_MIB * 1024 * 1024))

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() {
  printf '\n\033[1;31mFAIL\033[0m: %s\n' "$*"
  exit 1
}

install_deps() {
  local pkgs=(meson ninja-build pkg-config gcc libc6-dev libcurl4-openssl-dev libmbedtls-dev
    libcmocka-dev libmicrohttpd-dev curl coreutils)
  local missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "all build dependencies are installed"
    return
  fi
  [ "$(id -u)" -eq 0 ] || fail "missing packages (${missing[*]}): run as root, or install them"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
}

build() {
  if [ -f "$BUILD/build.ninja" ]; then
    echo "reusing $BUILD/"
  else
    meson setup "$BUILD"
  fi
  ninja -C "$BUILD"
  SERVE=$PWD/$BUILD/examples/serve/resumable-serve
  UPLOAD=$PWD/$BUILD/examples/upload/resumable-upload
  [ -x "$SERVE" ] && [ -x "$UPLOAD" ] || fail "resumable-serve or resumable-upload was not built"
}

WORK=""
SERVER_PID=""
UPLOAD_PID=""
cleanup() {
  [ -n "$UPLOAD_PID" ] && kill "$UPLOAD_PID" 2>/dev/null && wait "$UPLOAD_PID" 2>/dev/null
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [ -n "$WORK" ] && rm -rf "$WORK"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_server() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/resumable-demo.XXXXXX")
  "$SERVE" --root "$WORK/root" --port 0 >"$WORK/serve.out" 2>"$WORK/serve.log" &
  SERVER_PID=$!
  local line=""
  for _ in $(seq 100); do # up to 10 s for the "listening on" line
    line=$(grep -m1 '^listening on http://' "$WORK/serve.out" || true)
    [ -n "$line" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || fail "resumable-serve exited: $(cat "$WORK/serve.log")"
    sleep 0.1
  done
  [ -n "$line" ] || fail "resumable-serve did not say where it listens"
  BASE=${line#listening on }
  BASE=${BASE%/}
  URL=$BASE/v1/files/demo/big.bin
  echo "$line (root $WORK/root)"
}

# Bytes the server holds for the key (X-File-Size of HEAD; 0 when absent).
held() {
  curl -sS -I "$URL" 2>/dev/null | tr -d '\r' | awk -F': ' 'tolower($1)=="x-file-size"{print $2}' |
    grep . || echo 0
}

say "1/6 installing build dependencies"
install_deps
say "2/6 building"
build
say "3/6 starting resumable-serve on an ephemeral port"
start_server

say "4/6 generating a ${SIZE_MIB} MiB file"
FILE=$WORK/big.bin
head -c "$SIZE" /dev/urandom >"$FILE"
ls -l "$FILE"

say "5/6 uploading at $RATE/s, interrupted part-way with SIGINT"
# Job control on: a background job of a non-interactive shell would otherwise ignore SIGINT.
set -m
"$UPLOAD" --limit-rate "$RATE" "$FILE" "$URL" &
UPLOAD_PID=$!
set +m
target=$((SIZE / 3))
for _ in $(seq 1200); do # poll the server (HEAD) until it holds a third, up to 2 minutes
  h=$(held)
  [ "$h" -ge "$target" ] && break
  kill -0 "$UPLOAD_PID" 2>/dev/null || break
  sleep 0.1
done
kill -INT "$UPLOAD_PID" 2>/dev/null || fail "the upload ended before it could be interrupted"
rc=0
wait "$UPLOAD_PID" || rc=$?
UPLOAD_PID=""
echo
echo "resumable-upload stopped by SIGINT (exit code $rc)"
HELD=$(held)
echo "the server holds $HELD of $SIZE bytes ($((HELD * 100 / SIZE))%)"
[ "$HELD" -gt 0 ] && [ "$HELD" -lt "$SIZE" ] || fail "expected a partial upload on the server"

say "6/6 running the same upload again: it resumes from byte $HELD"
"$UPLOAD" --json "$FILE" "$URL" >"$WORK/result.json" || fail "the second upload failed"
echo "result: $(cat "$WORK/result.json")"
RESUMED=$(grep -o '"resumed_from": *[0-9]*' "$WORK/result.json" | grep -o '[0-9]*$' || true)

LOCAL_SHA=$(sha256sum "$FILE" | cut -d' ' -f1)
STORED_SHA=$(sha256sum "$WORK/root/demo/big.bin" | cut -d' ' -f1)
echo
echo "local  sha256: $LOCAL_SHA"
echo "stored sha256: $STORED_SHA"
[ "$LOCAL_SHA" = "$STORED_SHA" ] || fail "the stored file differs from the local file"
if [ -n "$RESUMED" ] && [ "$RESUMED" != "$HELD" ]; then
  fail "the second upload resumed from $RESUMED, the server held $HELD"
fi
printf '\n\033[1;32mPASS\033[0m: interrupted at %s bytes, resumed from %s, hashes match\n' \
  "$HELD" "${RESUMED:-$HELD}"
