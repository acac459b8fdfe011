#!/usr/bin/env bash
# bench/run.sh: libresumable's benchmark table, one command. See bench/README.md.
#
#   bench/run.sh [--runs N] [--quick] [--size MiB] [--only ROWS] [--build DIR] [--out FILE]
#
# Loopback only; the test file lives in the page cache. Each figure is the median of N runs
# (default 3), the variants of a row taken in turns within each run so they meet the same machine
# load; each ratio is taken between medians of this one invocation. Rows whose feature is not
# built yet print "n/a (feature missing)". Writes bench/results.md and prints it.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=3
RUNS_SET=0
QUICK=0
BUILD=${BUILD_DIR:-$ROOT/build-bench}
OUT=$ROOT/bench/results.md
ONLY=""
SIZE_OPT=""

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  cat <<'EOF'

options:
  --runs N     runs per figure, the median is reported (default 3; 1 with --quick)
  --quick      smoke version: 256 MiB file, smaller large-file rows (about a minute)
  --size MiB   size of the main test file (default 1024; 256 with --quick)
  --only ROWS  run only these rows, comma-separated, of: hashing ingest client resume
               memory (rows 5-6) concurrency rss relay tus digest s3 (e.g. --only client
               replaces upload.sh)
  --build DIR  meson build directory to use/create (default build-bench, buildtype release)
  --out FILE   where to write the table (default bench/results.md)
environment: BENCH_DIR (where the temp dir goes; default $TMPDIR or /tmp), RELAY_MIB (the
  relay row's file size, default 16; at most the main file's size)
EOF
}

while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=${2:-}; RUNS_SET=1; shift ;;
    --runs=*) RUNS=${1#--runs=}; RUNS_SET=1 ;;
    --quick) QUICK=1 ;;
    --size) SIZE_OPT=${2:-}; shift ;;
    --only) ONLY=${2:-}; shift ;;
    --build) BUILD=${2:-}; shift ;;
    --out) OUT=${2:-}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
case $RUNS in ''|*[!0-9]*|0) echo "run.sh: --runs takes a positive number" >&2; exit 2 ;; esac
[ "$QUICK" = 1 ] && [ "$RUNS_SET" = 0 ] && RUNS=1
case $SIZE_OPT in *[!0-9]*|0) echo "run.sh: --size takes a number of MiB" >&2; exit 2 ;; esac
case ${RELAY_MIB:-16} in ''|*[!0-9]*|0) echo "run.sh: RELAY_MIB takes a number of MiB" >&2; exit 2 ;; esac
for row in ${ONLY//,/ }; do
  case $row in hashing|ingest|client|resume|memory|concurrency|rss|relay|tus|digest|s3) ;;
    *) echo "run.sh: unknown row '$row' for --only (try --help)" >&2; exit 2 ;; esac
done

MiB=$((1024 * 1024))
if [ "$QUICK" = 1 ]; then
  SIZE_MIB=256 BIG_MIB=1024 SMALL_MIB=64 CONC_N=50 CONC_MIB=8 RSS_N=8 RSS_MIB=128 NEED_GIB=4
  PAR_MIB=64
else
  SIZE_MIB=1024 BIG_MIB=4096 SMALL_MIB=64 CONC_N=50 CONC_MIB=32 RSS_N=8 RSS_MIB=512 NEED_GIB=12
  PAR_MIB=256
fi
PAR_RATE=20000000 # bytes/s per connection for the --parallel row
[ -n "$SIZE_OPT" ] && SIZE_MIB=$SIZE_OPT
SIZE=$((SIZE_MIB * MiB))

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- build, disk, temp dir
cd "$ROOT" || exit 1
for tool in curl awk openssl; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done
if [ ! -f "$BUILD/build.ninja" ]; then
  log "configuring $BUILD (buildtype release)"
  meson setup "$BUILD" --buildtype=release >"${TMPDIR:-/tmp}/bench-meson.log" 2>&1 ||
    die "meson setup failed: see ${TMPDIR:-/tmp}/bench-meson.log"
fi
log "building"
ninja -C "$BUILD" >"${TMPDIR:-/tmp}/bench-ninja.log" 2>&1 ||
  die "build failed: see ${TMPDIR:-/tmp}/bench-ninja.log"
SERVE=$BUILD/examples/serve/resumable-serve
UPLOAD=$BUILD/examples/upload/resumable-upload
SHAFILE=$BUILD/bench/sha256_file
DISCARD=$BUILD/bench/mhd_discard
CUTPROXY=$BUILD/bench/cutproxy
for exe in "$SERVE" "$UPLOAD" "$SHAFILE" "$DISCARD"; do
  [ -x "$exe" ] || die "$exe was not built"
done
# nginx with the resumable module (built when nginx-dev is installed), started by the tests'
# launcher on a free port.
NGX_HOST=$BUILD/tests/nginx/nginx-host
NGX_MODULE=$BUILD/hosts/nginx/ngx_http_resumable_module.so

PARENT=${BENCH_DIR:-${TMPDIR:-/tmp}}
free_kib=$(df -Pk "$PARENT" | awk 'NR == 2 { print $4 }')
if [ -z "$free_kib" ] || [ "$free_kib" -lt $((NEED_GIB * 1024 * 1024)) ]; then
  die "refusing to run: $PARENT has $((${free_kib:-0} / 1024 / 1024)) GiB free, this run needs ${NEED_GIB} GiB (set BENCH_DIR to a roomier place)"
fi
WORK=$(mktemp -d "$PARENT/resumable-bench.XXXXXX") || die "cannot create a temp dir in $PARENT"

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# ---------------------------------------------------------------- small helpers
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
# MB/s (10^6 bytes) for bytes in seconds.
mbps() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / 1e6 / s; else print "" }'; }
median() {
  printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g |
    awk '{ a[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print a[(NR + 1) / 2];
          else printf "%.6g\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# Samples per figure: S[key] is a space-separated list; med KEY gives their median.
declare -A S
add() { S[$1]="${S[$1]:-} $2"; }
med() { local k=$1; [ -n "${S[$k]:-}" ] && median ${S[$k]}; }
# FAIL[key] explains why a figure has no samples (first reason kept).
declare -A FAIL
fail() { [ -n "${FAIL[$1]:-}" ] || FAIL[$1]=$2; log "$1: $2"; }

# Waits for 'listening on http://HOST:PORT/' in a file; prints PORT.
wait_port() {
  local file=$1 i
  for i in $(seq 200); do
    if grep -q '^listening on http://' "$file" 2>/dev/null; then
      sed -n 's/^listening on http:\/\/.*:\([0-9]*\)\/$/\1/p' "$file" | head -1
      return 0
    fi
    sleep 0.05
  done
  return 1
}

# The help text is read whole: `grep -q` would stop at the first match, and under pipefail the
# tool's SIGPIPE on its next write would count as "not found".
serve_has() { grep -q -- "$1" <<<"$("$SERVE" --help 2>&1)"; }
upload_has() { grep -q -- "$1" <<<"$("$UPLOAD" --help 2>&1)"; }

# Starts resumable-serve on a fresh root: sets SRV_PID, SRV_PORT, SRV_URL (the files prefix).
SRV_N=0
start_serve() {
  SRV_N=$((SRV_N + 1))
  local dir=$WORK/serve$SRV_N
  mkdir -p "$dir"
  "$SERVE" --root "$dir/root" --port 0 "$@" >"$dir/out" 2>"$dir/err" &
  SRV_PID=$!
  PIDS+=("$SRV_PID")
  SRV_PORT=$(wait_port "$dir/out") || { log "resumable-serve did not start: $(tail -2 "$dir/err")"; return 1; }
  SRV_URL=http://127.0.0.1:$SRV_PORT/v1/files
  SRV_DIR=$dir
}
stop_pid() {
  kill "$1" 2>/dev/null && wait "$1" 2>/dev/null
  return 0
}
stop_serve() { stop_pid "$SRV_PID"; rm -rf "$SRV_DIR"; }
# User and system CPU seconds a process has used so far: "USER SYS".
cpu_s() {
  local tck
  tck=$(getconf CLK_TCK)
  awk -v t="$tck" '{ sub(/^.*\) /, ""); printf "%.2f %.2f\n", $12 / t, $13 / t }' "/proc/$1/stat" 2>/dev/null
}
# cpu_delta KEY PID BEFORE: adds the user and system seconds used since BEFORE to KEY_user/_sys.
cpu_delta() {
  local u0 s0 u1 s1
  read -r u0 s0 <<<"$3"
  read -r u1 s1 < <(cpu_s "$2")
  [ -n "${u1:-}" ] || return 0
  add "$1_user" "$(awk -v a="$u0" -v b="$u1" 'BEGIN { printf "%.2f", b - a }')"
  add "$1_sys" "$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", b - a }')"
}
# Peak resident set (VmHWM) of a process, in KiB.
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# curl_put URL FILE [curl args...]: prints "HTTP_CODE SECONDS" (curl's own transfer time).
curl_put() {
  local url=$1 file=$2
  shift 2
  curl -sS -o /dev/null -w '%{http_code} %{time_total}\n' -T "$file" "$@" "$url" 2>>"$WORK/curl.err" ||
    true
}
# curl_put_cpu KEY URL FILE [curl args...]: curl_put, and adds curl's own user+system CPU
# seconds to KEY (bash's `time` of the child). Run it in this shell (not in a pipe or a process
# substitution), so that the figure is kept: its output goes to a file.
curl_put_cpu() {
  local key=$1 url=$2 file=$3 TIMEFORMAT='%U %S' u sy
  shift 3
  { time curl -sS -o /dev/null -w '%{http_code} %{time_total}\n' -T "$file" "$@" "$url" \
      2>>"$WORK/curl.err"; } 2>"$WORK/curl.time" || true
  read -r u sy <"$WORK/curl.time" 2>/dev/null &&
    add "$key" "$(awk -v a="$u" -v b="$sy" 'BEGIN { printf "%.2f", a + b }')"
}
# Sets VARGS: curl's headers for the whole file as one Content-Range chunk with a bound hash.
vargs() { # SIZE SHA
  VARGS=(-H "Content-Range: bytes 0-$(($1 - 1))/$1" -H "X-Content-SHA256: $2")
}
delete() { curl -sS -X DELETE "$@" >/dev/null 2>&1 || true; }
# Before each timed transfer: write back what earlier ones left dirty in the page cache, so no
# figure pays for the writeback of the one before it (not timed).
settle() { sync -f "$WORK" 2>/dev/null || sync; }
# settle_warm: settle, then write and delete SIZE bytes of zeros just before the transfer, so
# that the page-cache pages it allocates are warm. This VM hands freed guest pages back to the
# host (virtio-balloon free page reporting: /sys/module/page_reporting); touching one again costs
# a host fault. Whichever transfer first wrote into such memory paid up to 4x the system time
# for its copies into the page cache (perf: all in copy_folio_from_iter_atomic; `dd` of the
# file ran at 540 MB/s into cold memory and 4970 MB/s into warm), so the order of the variants
# decided the figures. The zeros are never written back: their file is gone before writeback.
settle_warm() {
  settle
  dd if=/dev/zero of="$WORK/warm" bs=1M count="$SIZE_MIB" status=none 2>/dev/null
  rm -f "$WORK/warm"
}

# ---------------------------------------------------------------- versions, machine
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }
NGINX=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true)
if [ -z "$NGINX" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing Debian's nginx (apt-get install nginx)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >"$WORK/apt.log" 2>&1 ||
      { apt-get update -qq >>"$WORK/apt.log" 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >>"$WORK/apt.log" 2>&1; } ||
      log "apt-get install nginx failed: $(tail -1 "$WORK/apt.log")"
  fi
  NGINX=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true)
fi

V_GCC=$(gcc --version 2>/dev/null | head -1)
V_CURL=$(curl --version | head -1 | tr ' ' '\n' | sed -n 's/^libcurl\///p')
V_MHD=$(pkg-config --modversion libmicrohttpd 2>/dev/null || echo "?")
V_MBED=$(sed -n 's/^#define MBEDTLS_VERSION_STRING *"\(.*\)"/\1/p' /usr/include/mbedtls/version.h \
  /usr/include/mbedtls/build_info.h 2>/dev/null | head -1)
V_NGINX=$({ [ -n "$NGINX" ] && "$NGINX" -v 2>&1 | sed 's/^nginx version: //'; } || echo "not installed")
V_OPENSSL=$(openssl version | cut -d' ' -f1-2)
M_CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
M_MEM=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
M_SHA=$(grep -q -w sha_ni /proc/cpuinfo && echo "SHA-NI yes" || echo "SHA-NI no")
M_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- test files
log "work dir $WORK; generating a ${SIZE_MIB} MiB file"
FILE=$WORK/file.bin
head -c "$SIZE" /dev/urandom >"$FILE" || die "cannot write $FILE"
cat "$FILE" >/dev/null # into the page cache
read -r SHA _ < <("$SHAFILE" active "$FILE")
[ ${#SHA} = 64 ] || die "cannot hash $FILE"
CONC_FILE=$WORK/conc.bin
head -c $((CONC_MIB * MiB)) "$FILE" >"$CONC_FILE"
read -r CONC_SHA _ < <("$SHAFILE" active "$CONC_FILE")
# Sparse files of zeros for the large-file rows (the server's work does not depend on the bytes).
ZERO_BYTE=$WORK/zero.byte
head -c 1 /dev/zero >"$ZERO_BYTE"
declare -A ZSHA
zero_file() { # MiB -> creates $WORK/zeroMiB (N bytes) and $WORK/zeroMiB.prefix (N-1 bytes)
  local f=$WORK/zero$1
  [ -f "$f" ] && return 0
  truncate -s $(($1 * MiB)) "$f" && truncate -s $(($1 * MiB - 1)) "$f.prefix" || return 1
  read -r ZSHA[$1] _ < <("$SHAFILE" active "$f")
}
for m in "$SMALL_MIB" "$SIZE_MIB" "$BIG_MIB" "$RSS_MIB"; do
  zero_file "$m" || die "cannot create sparse files in $WORK"
done

# ---------------------------------------------------------------- nginx WebDAV
NGINX_PID="" NGINX_PORT=""
start_nginx() {
  [ -n "$NGINX" ] || return 1
  local d=$WORK/nginx try port user_line=""
  mkdir -p "$d/dav" "$d/tmp" "$d/logs"
  [ "$(id -u)" = 0 ] && user_line="user $(id -un) $(id -gn);"
  for try in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 40000))
    ss -Htln 2>/dev/null | awk '{ print $4 }' | grep -q ":$port\$" && continue
    cat >"$d/nginx.conf" <<EOF
# Debian's nginx, default tuning, WebDAV PUT into a temp dir (written by bench/run.sh).
daemon off;
$user_line
worker_processes auto;
pid $d/nginx.pid;
error_log $d/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  server {
    listen 127.0.0.1:$port;
    root $d/dav;
    location / {
      dav_methods PUT DELETE;
      create_full_put_path on;
      client_max_body_size 0;
    }
  }
}
EOF
    "$NGINX" -p "$d" -c "$d/nginx.conf" -e "$d/logs/error.log" >"$d/logs/stdout" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    local i
    for i in $(seq 100); do
      if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
        NGINX_PORT=$port
        return 0
      fi
      kill -0 "$NGINX_PID" 2>/dev/null || break
      sleep 0.05
    done
    stop_pid "$NGINX_PID"
  done
  log "nginx did not start: $(tail -2 "$d/logs/error.log" 2>/dev/null)"
  NGINX_PID=""
  return 1
}

# ---------------------------------------------------------------- nginx with the module
# start_ngxmod [nginx-host options...]: sets NGXM_PID, NGXM_URL (the files prefix), NGXM_DIR.
NGXM_N=0
start_ngxmod() {
  [ -n "$NGINX" ] && [ -x "$NGX_HOST" ] && [ -f "$NGX_MODULE" ] || return 1
  NGXM_N=$((NGXM_N + 1))
  local dir=$WORK/ngxmod$NGXM_N port
  mkdir -p "$dir/root"
  "$NGX_HOST" --nginx "$NGINX" --module "$NGX_MODULE" --dir "$dir" --root "$dir/root" \
    --http-directive "access_log off;" "$@" >"$dir/out" 2>"$dir/err" &
  NGXM_PID=$!
  PIDS+=("$NGXM_PID")
  port=$(wait_port "$dir/out") || { log "nginx with the module did not start: $(tail -2 "$dir/err")"; return 1; }
  NGXM_URL=http://127.0.0.1:$port/v1/files
  NGXM_DIR=$dir
}
stop_ngxmod() { stop_pid "$NGXM_PID"; rm -rf "$NGXM_DIR"; }
ngxmod_missing() {
  if [ -z "$NGINX" ]; then echo "n/a (nginx not available)"
  elif [ ! -f "$NGX_MODULE" ] || [ ! -x "$NGX_HOST" ]; then echo "n/a (module not built: nginx-dev missing)"
  else echo "nginx with the module did not start: $(tail -1 "$WORK/ngxmod$NGXM_N/err" 2>/dev/null)"; fi
}

# ---------------------------------------------------------------- row 1: ingest
row_ingest() {
  log "row 1: ingest, ${SIZE_MIB} MiB x $RUNS (resumable-serve whole/verified, nginx, discard MHD)"
  local mem_args=() discard_port="" r out code t
  # The same libmicrohttpd connection memory on both sides (resumable-serve's own default
  # changes when its --connection-memory option lands).
  serve_has --connection-memory && mem_args=(--connection-memory 2M)
  start_serve "${mem_args[@]}" || { fail ingest_whole "resumable-serve did not start"; return; }
  local serve_pid=$SRV_PID serve_url=$SRV_URL serve_dir=$SRV_DIR
  "$DISCARD" >"$WORK/discard.out" 2>"$WORK/discard.err" &
  local discard_pid=$!
  PIDS+=("$discard_pid")
  discard_port=$(wait_port "$WORK/discard.out") || fail ingest_discard "mhd_discard did not start"
  start_nginx || fail ingest_nginx "n/a (nginx not available: $V_NGINX)"
  # The same server with hashing inline on the receiving thread, when that can be chosen.
  local inline_pid="" inline_url="" inline_dir=""
  if serve_has --hash-threads && start_serve "${mem_args[@]}" --hash-threads 0; then
    inline_pid=$SRV_PID inline_url=$SRV_URL inline_dir=$SRV_DIR
  else
    fail ingest_inline "n/a (feature missing: --hash-threads)"
  fi
  local ngx_pid="" ngx_url="" ngx_dir=""
  if start_ngxmod; then
    ngx_pid=$NGXM_PID ngx_url=$NGXM_URL ngx_dir=$NGXM_DIR
  else
    fail ingest_ngx_whole "$(ngxmod_missing)"
    fail ingest_ngx_verified "$(ngxmod_missing)"
  fi
  local cpu0
  for r in $(seq "$RUNS"); do
    settle_warm
    cpu0=$(cpu_s "$serve_pid")
    curl_put_cpu curl_cpu_whole "$serve_url/ingest-whole-$r" "$FILE" >"$WORK/put.out"
    read -r code t <"$WORK/put.out"
    [ "$code" = 200 ] && add ingest_whole "$(mbps "$SIZE" "$t")" || fail ingest_whole "HTTP $code"
    cpu_delta cpu_whole "$serve_pid" "$cpu0"
    delete "$serve_url/ingest-whole-$r"
    vargs "$SIZE" "$SHA"
    settle_warm
    cpu0=$(cpu_s "$serve_pid")
    read -r code t < <(curl_put "$serve_url/ingest-verified-$r" "$FILE" "${VARGS[@]}")
    [ "$code" = 200 ] && add ingest_verified "$(mbps "$SIZE" "$t")" || fail ingest_verified "HTTP $code"
    cpu_delta cpu_verified "$serve_pid" "$cpu0"
    delete "$serve_url/ingest-verified-$r"
    if [ -n "$inline_pid" ]; then
      settle_warm
      read -r code t < <(curl_put "$inline_url/ingest-inline-$r" "$FILE" "${VARGS[@]}")
      [ "$code" = 200 ] && add ingest_inline "$(mbps "$SIZE" "$t")" || fail ingest_inline "HTTP $code"
      delete "$inline_url/ingest-inline-$r"
    fi
    if [ -n "$ngx_pid" ]; then
      settle_warm
      read -r code t < <(curl_put "$ngx_url/ingest-whole-$r" "$FILE")
      [ "$code" = 200 ] && add ingest_ngx_whole "$(mbps "$SIZE" "$t")" || fail ingest_ngx_whole "HTTP $code"
      delete "$ngx_url/ingest-whole-$r"
      settle_warm
      read -r code t < <(curl_put "$ngx_url/ingest-verified-$r" "$FILE" "${VARGS[@]}")
      [ "$code" = 200 ] && add ingest_ngx_verified "$(mbps "$SIZE" "$t")" || fail ingest_ngx_verified "HTTP $code"
      delete "$ngx_url/ingest-verified-$r"
    fi
    if [ -n "$NGINX_PORT" ]; then
      settle_warm
      read -r code t < <(curl_put "http://127.0.0.1:$NGINX_PORT/ingest-$r" "$FILE")
      case $code in 201|204) add ingest_nginx "$(mbps "$SIZE" "$t")" ;; *) fail ingest_nginx "HTTP $code" ;; esac
      delete "http://127.0.0.1:$NGINX_PORT/ingest-$r"
    fi
    # The storage under the server: the same bytes written by dd, without and with a final fsync.
    settle_warm
    t=$(wall dd if="$FILE" of="$WORK/dd.out" bs=1M)
    [ -n "$t" ] && add ingest_dd "$(mbps "$SIZE" "$t")"
    rm -f "$WORK/dd.out"
    settle_warm
    t=$(wall dd if="$FILE" of="$WORK/dd.out" bs=1M conv=fsync)
    [ -n "$t" ] && add ingest_ddsync "$(mbps "$SIZE" "$t")"
    rm -f "$WORK/dd.out"
    if [ -n "$discard_port" ]; then
      settle_warm
      cpu0=$(cpu_s "$discard_pid")
      curl_put_cpu curl_cpu_discard "http://127.0.0.1:$discard_port/ingest-$r" "$FILE" >"$WORK/put.out"
      read -r code t <"$WORK/put.out"
      [ "$code" = 200 ] && add ingest_discard "$(mbps "$SIZE" "$t")" || fail ingest_discard "HTTP $code"
      cpu_delta cpu_discard "$discard_pid" "$cpu0"
    fi
  done
  stop_pid "$discard_pid"
  [ -n "$NGINX_PID" ] && stop_pid "$NGINX_PID"
  [ -n "$inline_pid" ] && stop_pid "$inline_pid"
  [ -n "$ngx_pid" ] && stop_pid "$ngx_pid"
  stop_pid "$serve_pid"
  rm -rf "$serve_dir" "$inline_dir" "$ngx_dir" "$WORK/nginx/dav"
}

# ---------------------------------------------------------------- row 2: hashing
row_hashing() {
  log "row 2: hashing, ${SIZE_MIB} MiB x $RUNS (mbedTLS, portable, SHA-NI, openssl dgst)"
  local r impl hex t rc t0
  for r in $(seq "$RUNS"); do
    for impl in mbedtls portable sha-ni; do
      read -r hex t _ < <("$SHAFILE" "$impl" "$FILE" 2>/dev/null; echo "rc $?")
      if [ "$hex" = "$SHA" ]; then
        add "hash_$impl" "$(mbps "$SIZE" "$t")"
      elif [ "$hex" = rc ] && [ "$t" = 3 ]; then
        fail "hash_$impl" "n/a (CPU lacks it)"
      else
        fail "hash_$impl" "failed or wrong digest"
      fi
    done
    t0=$(now)
    hex=$(openssl dgst -sha256 -r "$FILE" | cut -c1-64)
    t=$(elapsed "$t0" "$(now)")
    [ "$hex" = "$SHA" ] && add hash_openssl "$(mbps "$SIZE" "$t")" || fail hash_openssl "wrong digest"
  done
}

# ---------------------------------------------------------------- row 3: client
# Wall time of one command (process start included), in seconds; "" if it failed.
wall() {
  local t0 rc
  t0=$(now)
  "$@" >>"$WORK/client.out" 2>>"$WORK/client.err"
  rc=$?
  [ $rc = 0 ] && awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'
}
# client_variant curl|sha|cache RUN HAS_CACHE: one timed upload (cache: cold, then warm).
client_variant() {
  local v=$1 r=$2 has_cache=$3 t cache
  settle_warm
  case $v in
    ngxcurl|ngxsha)
      [ -n "$NGXM_URL_CLIENT" ] || return 0
      if [ "$v" = ngxcurl ]; then
        t=$(wall curl -sS -f -o /dev/null -T "$FILE" "$NGXM_URL_CLIENT/client-curl-$r")
      else
        t=$(wall "$UPLOAD" --quiet --sha256 "$SHA" "$FILE" "$NGXM_URL_CLIENT/client-sha-$r")
      fi
      [ -n "$t" ] && add "client_$v" "$t" || fail "client_$v" "upload to nginx failed"
      delete "$NGXM_URL_CLIENT/client-curl-$r" "$NGXM_URL_CLIENT/client-sha-$r" ;;
    curl)
      t=$(wall curl -sS -f -o /dev/null -T "$FILE" "$SRV_URL/client-curl-$r")
      [ -n "$t" ] && add client_curl "$t" || fail client_curl "curl failed"
      delete "$SRV_URL/client-curl-$r" ;;
    sha)
      t=$(wall "$UPLOAD" --quiet --sha256 "$SHA" "$FILE" "$SRV_URL/client-sha-$r")
      [ -n "$t" ] && add client_sha "$t" || fail client_sha "resumable-upload failed"
      delete "$SRV_URL/client-sha-$r" ;;
    cache)
      # Cold: a cache directory of its own, empty; warm: the same directory, a new key.
      cache=$WORK/cache$r
      mkdir -p "$cache"
      t=$(XDG_CACHE_HOME=$cache wall "$UPLOAD" --quiet "$FILE" "$SRV_URL/client-cold-$r")
      [ -n "$t" ] && add client_cold "$t" || fail client_cold "resumable-upload failed"
      delete "$SRV_URL/client-cold-$r"
      if [ "$has_cache" = 1 ]; then
        settle
        t=$(XDG_CACHE_HOME=$cache wall "$UPLOAD" --quiet --json "$FILE" "$SRV_URL/client-warm-$r")
        if [ -z "$t" ]; then
          fail client_warm "resumable-upload failed"
        elif ! tail -1 "$WORK/client.out" | grep -q '"hash_cached": *true'; then
          fail client_warm "the hash cache was not used"
        else
          add client_warm "$t"
        fi
        delete "$SRV_URL/client-warm-$r"
      fi
      rm -rf "$cache" ;;
  esac
}
row_client() {
  log "row 3: client, ${SIZE_MIB} MiB x $RUNS (curl -T, resumable-upload --sha256 / cold / warm)"
  start_serve || { fail client_curl "resumable-serve did not start"; return; }
  local has_cache=0 r v
  upload_has --no-hash-cache && has_cache=1
  [ $has_cache = 1 ] || fail client_warm "n/a (feature missing: hash cache)"
  local order serve_pid=$SRV_PID serve_dir=$SRV_DIR
  NGXM_URL_CLIENT=""
  if start_ngxmod; then
    NGXM_URL_CLIENT=$NGXM_URL
  else
    fail client_ngxcurl "$(ngxmod_missing)"
    fail client_ngxsha "$(ngxmod_missing)"
  fi
  for r in $(seq "$RUNS"); do
    # The variants in a rotating order, so none is always the one after the same neighbour.
    case $((r % 3)) in
      1) order="curl sha cache ngxcurl ngxsha" ;; 2) order="sha ngxsha cache curl ngxcurl" ;;
      0) order="ngxcurl cache curl ngxsha sha" ;;
    esac
    for v in $order; do client_variant "$v" "$r" "$has_cache"; done
  done
  [ -n "$NGXM_URL_CLIENT" ] && stop_ngxmod
  SRV_PID=$serve_pid SRV_DIR=$serve_dir
  stop_serve
}

# ---------------------------------------------------------------- row 4: resume efficiency
row_resume() {
  log "row 4: resume efficiency, ${SIZE_MIB} MiB with 10 cuts x $RUNS"
  if [ ! -x "$CUTPROXY" ]; then
    fail resume_ratio "n/a (feature missing: the e2e fault proxy)"
    return
  fi
  start_serve || { fail resume_ratio "resumable-serve did not start"; return; }
  local r pdir pport ppid json bytes cuts wire attempts
  for r in $(seq "$RUNS"); do
    pdir=$WORK/proxy$r
    mkdir -p "$pdir"
    "$CUTPROXY" "$SRV_PORT" $((SIZE / 11)) 10 >"$pdir/out" 2>"$pdir/err" &
    ppid=$!
    PIDS+=("$ppid")
    pport=$(wait_port "$pdir/out") || { fail resume_ratio "cutproxy did not start"; stop_pid "$ppid"; break; }
    json=$("$UPLOAD" --quiet --json --sha256 "$SHA" --backoff-min 10 --backoff-max 200 \
      "$FILE" "http://127.0.0.1:$pport/v1/files/resume-$r" 2>>"$WORK/client.err")
    stop_pid "$ppid"
    read -r _ bytes _ cuts _ < <(grep '^upstream_bytes' "$pdir/out")
    wire=$(printf '%s' "$json" | sed -n 's/.*"wire_bytes": *\([0-9]*\).*/\1/p')
    attempts=$(printf '%s' "$json" | sed -n 's/.*"attempts": *\([0-9]*\).*/\1/p')
    if ! printf '%s' "$json" | grep -q '"status": *"ok"\|"error": *null'; then
      fail resume_ratio "upload through the cut proxy failed: $(printf '%s' "$json" | head -c 200)"
    elif [ "${cuts:-0}" != 10 ]; then
      fail resume_ratio "the proxy made ${cuts:-0} cuts, not 10"
    else
      add resume_ratio "$(awk -v w="$bytes" -v n="$SIZE" 'BEGIN { printf "%.4f", w / n }')"
      [ -n "$wire" ] && add resume_body "$(awk -v w="$wire" -v n="$SIZE" 'BEGIN { printf "%.4f", w / n }')"
      [ -n "$attempts" ] && add resume_attempts "$attempts"
    fi
    delete "$SRV_URL/resume-$r"
  done
  stop_serve
}

# ---------------------------------------------------------------- row 8: a relay that caps connections
# Issue 10 item 11: a 16 MiB upload through a relay forwarding 20 MB/s that cuts every
# connection once it has carried 1 MiB (cutproxy --conn-cap), against the same relay uncut;
# resumable-upload with its default backoff. Time is the stager's own ("seconds" of --json).
RELAY_MIB=${RELAY_MIB:-16} RELAY_RATE=20000000 RELAY_CAP=$MiB
relay_variant() { # uncut|capped RUN FILE SHA
  local v=$1 r=$2 file=$3 sha=$4 pdir pport ppid json secs wire attempts cuts cap=0
  [ "$v" = capped ] && cap=$RELAY_CAP
  pdir=$WORK/relay-$v-$r
  mkdir -p "$pdir"
  "$CUTPROXY" "$SRV_PORT" 0 0 --rate "$RELAY_RATE" --conn-cap "$cap" >"$pdir/out" 2>"$pdir/err" &
  ppid=$!
  PIDS+=("$ppid")
  pport=$(wait_port "$pdir/out") || { fail "relay_$v" "cutproxy did not start"; stop_pid "$ppid"; return; }
  settle
  json=$("$UPLOAD" --quiet --json --sha256 "$sha" "$file" \
    "http://127.0.0.1:$pport/v1/files/relay-$v-$r" 2>>"$WORK/client.err")
  stop_pid "$ppid"
  read -r _ _ _ cuts _ < <(grep '^upstream_bytes' "$pdir/out")
  secs=$(printf '%s' "$json" | sed -n 's/.*"seconds": *\([0-9.]*\).*/\1/p')
  wire=$(printf '%s' "$json" | sed -n 's/.*"wire_bytes": *\([0-9]*\).*/\1/p')
  attempts=$(printf '%s' "$json" | sed -n 's/.*"attempts": *\([0-9]*\).*/\1/p')
  if ! printf '%s' "$json" | grep -q '"error": *null' || [ -z "$secs" ]; then
    fail "relay_$v" "upload through the relay failed: $(printf '%s' "$json" | head -c 200)"
  else
    add "relay_$v" "$secs"
    if [ "$v" = capped ]; then
      add relay_wire "$(awk -v w="$wire" -v n="$((RELAY_MIB * MiB))" 'BEGIN { printf "%.3f", w / n }')"
      add relay_attempts "$attempts"
      add relay_cuts "${cuts:-?}"
    fi
  fi
  delete "$SRV_URL/relay-$v-$r"
}
row_relay() {
  log "row 8: ${RELAY_MIB} MiB through a $((RELAY_RATE / 1000000)) MB/s relay, uncut and cutting each connection after $RELAY_CAP bytes x $RUNS"
  if [ ! -x "$CUTPROXY" ] || ! grep -q -- --conn-cap < <("$CUTPROXY" 2>&1); then
    fail relay_capped "n/a (feature missing: cutproxy --conn-cap)"
    return
  fi
  local file=$WORK/relay.bin sha r
  head -c $((RELAY_MIB * MiB)) "$FILE" >"$file"
  read -r sha _ < <("$SHAFILE" active "$file")
  start_serve || { fail relay_capped "resumable-serve did not start"; return; }
  for r in $(seq "$RUNS"); do
    relay_variant uncut "$r" "$file" "$sha"
    relay_variant capped "$r" "$file" "$sha"
  done
  stop_serve
  rm -f "$file"
}

# ---------------------------------------------------------------- rows 5, 6: memory, commit
# On a fresh server: PUT the first N-1 bytes (bound hash, 308), then time the final 1-byte PUT
# (verify + fsync + rename), then read the server's VmHWM. Sparse files of zeros.
commit_probe() { # MiB KEYNAME
  local mib=$1 name=$2 n=$(($1 * MiB)) code t
  settle
  start_serve || { fail "commit_$name" "resumable-serve did not start"; return; }
  read -r code t < <(curl_put "$SRV_URL/big" "$WORK/zero$mib.prefix" \
    -H "Content-Range: bytes 0-$((n - 2))/$n" -H "X-Content-SHA256: ${ZSHA[$mib]}")
  if [ "$code" != 308 ]; then
    fail "commit_$name" "partial PUT answered HTTP $code"
  else
    read -r code t < <(curl_put "$SRV_URL/big" "$ZERO_BYTE" \
      -H "Content-Range: bytes $((n - 1))-$((n - 1))/$n" -H "X-Content-SHA256: ${ZSHA[$mib]}")
    if [ "$code" = 200 ]; then
      add "commit_$name" "$(awk -v t="$t" 'BEGIN { printf "%.2f", t * 1000 }')"
      add "rss_$name" "$(awk -v k="$(hwm_kib "$SRV_PID")" 'BEGIN { printf "%.1f", k / 1024 }')"
    else
      fail "commit_$name" "final byte answered HTTP $code"
    fi
  fi
  stop_serve
}
row_memory_commit() {
  log "rows 5-6: peak RSS and commit latency at $SMALL_MIB MiB, $SIZE_MIB MiB, $BIG_MIB MiB x $RUNS"
  local r
  for r in $(seq "$RUNS"); do
    commit_probe "$SMALL_MIB" small
    commit_probe "$SIZE_MIB" size
    commit_probe "$BIG_MIB" big
  done
}

# ---------------------------------------------------------------- row 7 and RSS target: concurrency
# N concurrent verified PUTs of one file to a server; prints "SECONDS OK_COUNT".
concurrent_puts() { # N FILE SHA URLPREFIX
  local n=$1 file=$2 sha=$3 url=$4 i t0 ok size
  size=$(stat -c %s "$file")
  vargs "$size" "$sha"
  local dir=$WORK/conc
  rm -rf "$dir"
  mkdir -p "$dir"
  t0=$(now)
  for i in $(seq "$n"); do
    curl_put "$url-$i" "$file" "${VARGS[@]}" >"$dir/$i" &
  done
  wait # this runs in a subshell: its only children are the curls
  ok=$(cat "$dir"/* | grep -c '^200 ')
  echo "$(elapsed "$t0" "$(now)") $ok"
}
row_concurrency() {
  log "row 7: $CONC_N concurrent uploads of $CONC_MIB MiB vs one stream x $RUNS"
  local r t ok code i urls
  start_serve || { fail conc_agg "resumable-serve did not start"; return; }
  for r in $(seq "$RUNS"); do
    settle
    vargs $((CONC_MIB * MiB)) "$CONC_SHA"
    read -r code t < <(curl_put "$SRV_URL/one-$r" "$CONC_FILE" "${VARGS[@]}")
    [ "$code" = 200 ] && add conc_one "$(mbps $((CONC_MIB * MiB)) "$t")" || fail conc_one "HTTP $code"
    delete "$SRV_URL/one-$r"
    settle
    read -r t ok < <(concurrent_puts "$CONC_N" "$CONC_FILE" "$CONC_SHA" "$SRV_URL/conc-$r")
    if [ "$ok" = "$CONC_N" ]; then
      add conc_agg "$(mbps $((CONC_N * CONC_MIB * MiB)) "$t")"
    else
      fail conc_agg "only $ok of $CONC_N uploads answered 200"
    fi
    urls=()
    for i in $(seq "$CONC_N"); do urls+=("$SRV_URL/conc-$r-$i"); done
    delete "${urls[@]}"
  done
  stop_serve
  local w
  for w in 2 1; do
    if ! start_ngxmod --workers "$w"; then
      fail "conc_ngx$w" "$(ngxmod_missing)"
      continue
    fi
    for r in $(seq "$RUNS"); do
      settle
      read -r t ok < <(concurrent_puts "$CONC_N" "$CONC_FILE" "$CONC_SHA" "$NGXM_URL/conc-$r")
      if [ "$ok" = "$CONC_N" ]; then
        add "conc_ngx$w" "$(mbps $((CONC_N * CONC_MIB * MiB)) "$t")"
      else
        fail "conc_ngx$w" "only $ok of $CONC_N uploads answered 200"
      fi
    done
    stop_ngxmod
  done
}
row_rss_target() {
  log "target: peak RSS with $RSS_N concurrent $RSS_MIB MiB uploads x $RUNS"
  local r t ok i urls
  for r in $(seq "$RUNS"); do
    settle
    start_serve || { fail rss_conc "resumable-serve did not start"; return; }
    read -r t ok < <(concurrent_puts "$RSS_N" "$WORK/zero$RSS_MIB" "${ZSHA[$RSS_MIB]}" "$SRV_URL/rss")
    if [ "$ok" = "$RSS_N" ]; then
      add rss_conc "$(awk -v k="$(hwm_kib "$SRV_PID")" 'BEGIN { printf "%.1f", k / 1024 }')"
    else
      fail rss_conc "only $ok of $RSS_N uploads answered 200"
    fi
    stop_serve
  done
}

# ---------------------------------------------------------------- row 9: tus
# tus-js-client (tests/peers, npm ci there) against resumable-serve and @tus/server on the same
# file; resumable-upload --protocol tus against --protocol localai; --parallel 1/2/4 through a
# proxy that limits each connection to PAR_RATE bytes/s.
PEERS=$ROOT/tests/peers
NODE_BIN=$(command -v node || true)
RATEPROXY=$BUILD/bench/rateproxy
# Waits for 'listening on http://HOST:PORT/...' in a file; prints PORT.
wait_port_any() {
  local i
  for i in $(seq 200); do
    if grep -q '^listening on http://' "$1" 2>/dev/null; then
      sed -n 's/^listening on http:\/\/[^:]*:\([0-9]*\)\/.*/\1/p' "$1" | head -1
      return 0
    fi
    sleep 0.05
  done
  return 1
}
tus_peers_ok() { [ -n "$NODE_BIN" ] && [ -d "$PEERS/node_modules/tus-js-client" ] &&
  [ -d "$PEERS/node_modules/@tus/server" ]; }
start_tus_server() { # sets TS_PID TS_PORT TS_DIR
  TS_DIR=$WORK/tus-server
  rm -rf "$TS_DIR" && mkdir -p "$TS_DIR"
  "$NODE_BIN" "$PEERS/tus_server.mjs" "$TS_DIR/store" >"$TS_DIR/out" 2>"$TS_DIR/err" &
  TS_PID=$!
  PIDS+=("$TS_PID")
  TS_PORT=$(wait_port_any "$TS_DIR/out") || { log "@tus/server did not start: $(tail -2 "$TS_DIR/err")"; return 1; }
}
tus_js_wall() { # KEY ENDPOINT NAME SERVER_PID [ARGS...]: one tus-js-client upload of $FILE, as MB/s
  local t before
  settle_warm
  before=$(cpu_s "$4")
  t=$(wall "$NODE_BIN" "$PEERS/tus_js_upload.mjs" "$2" "$FILE" --name "$3" "${@:5}")
  if [ -n "$t" ]; then
    add "$1" "$(mbps "$SIZE" "$t")"
    cpu_delta "$1_cpu" "$4" "$before" # the server's CPU for the upload
  else
    fail "$1" "tus-js-client failed: $(tail -1 "$WORK/client.out")"
  fi
}
row_tus() {
  log "row 9: tus, ${SIZE_MIB} MiB x $RUNS (tus-js-client tus and ietf-draft-05 -> ours / @tus/server; resumable-upload tus / ietf / localai); --parallel 1/2/4, ${PAR_MIB} MiB at $((PAR_RATE / 1000000)) MB/s per connection"
  local r n t have_peers=0
  upload_has --protocol || { fail tus_up_tus "resumable-upload has no --protocol"; return; }
  if tus_peers_ok; then have_peers=1; else
    fail tus_js_ours "tus-js-client / @tus/server not installed (cd tests/peers && npm ci)"
    fail tus_js_peer "tus-js-client / @tus/server not installed (cd tests/peers && npm ci)"
  fi
  start_serve || { fail tus_up_tus "resumable-serve did not start"; return; }
  [ "$have_peers" = 1 ] && { start_tus_server || fail tus_js_peer "@tus/server did not start"; }
  for r in $(seq "$RUNS"); do
    if [ "$have_peers" = 1 ]; then
      tus_js_wall tus_js_ours "$SRV_URL/" "tus-js-$r.bin" "$SRV_PID"
      delete "$SRV_URL/tus-js-$r.bin"
      # the same client speaking the IETF draft (interop version 6) to the same server
      tus_js_wall ietf_js_ours "$SRV_URL/" "ietf-js-$r.bin" "$SRV_PID" --protocol ietf-draft-05
      delete "$SRV_URL/ietf-js-$r.bin"
      [ -n "${TS_PORT:-}" ] && tus_js_wall tus_js_peer "http://127.0.0.1:$TS_PORT/files/" "tus-js-$r.bin" "$TS_PID"
      rm -rf "$TS_DIR/store"/*
    fi
    settle_warm
    t=$(wall "$UPLOAD" --quiet --no-url-store --sha256 "$SHA" --protocol tus "$FILE" "$SRV_URL/tus-$r")
    [ -n "$t" ] && add tus_up_tus "$t" || fail tus_up_tus "resumable-upload --protocol tus failed"
    delete "$SRV_URL/tus-$r"
    settle_warm
    t=$(wall "$UPLOAD" --quiet --no-url-store --sha256 "$SHA" --protocol ietf "$FILE" "$SRV_URL/ietf-$r")
    [ -n "$t" ] && add tus_up_ietf "$t" || fail tus_up_ietf "resumable-upload --protocol ietf failed"
    delete "$SRV_URL/ietf-$r"
    settle_warm
    t=$(wall "$UPLOAD" --quiet --sha256 "$SHA" --protocol localai "$FILE" "$SRV_URL/localai-$r")
    [ -n "$t" ] && add tus_up_localai "$t" || fail tus_up_localai "resumable-upload --protocol localai failed"
    delete "$SRV_URL/localai-$r"
  done
  [ -n "${TS_PID:-}" ] && stop_pid "$TS_PID"
  # --parallel through per-connection rate limits
  local pfile=$WORK/par.bin psha rp_pid rp_port
  head -c $((PAR_MIB * MiB)) "$FILE" >"$pfile"
  read -r psha _ < <("$SHAFILE" active "$pfile")
  if [ ! -x "$RATEPROXY" ]; then
    fail par_1 "bench/rateproxy was not built"
  else
    "$RATEPROXY" "$SRV_PORT" "$PAR_RATE" >"$WORK/rateproxy.out" 2>&1 &
    rp_pid=$!
    PIDS+=("$rp_pid")
    rp_port=$(wait_port_any "$WORK/rateproxy.out") || { fail par_1 "rateproxy did not start"; rp_port=""; }
    for r in $(seq "$RUNS"); do
      [ -n "$rp_port" ] || break
      for n in 1 2 4; do
        settle_warm
        t=$(wall "$UPLOAD" --quiet --no-url-store --sha256 "$psha" --protocol tus --parallel "$n" \
          --metadata "filename=par-$n-$r" "$pfile" "http://127.0.0.1:$rp_port/v1/files/")
        [ -n "$t" ] && add "par_$n" "$t" || fail "par_$n" "resumable-upload --parallel $n failed"
        delete "$SRV_URL/par-$n-$r"
      done
    done
    stop_pid "$rp_pid"
  fi
  stop_serve
}
# ---------------------------------------------------------------- row 10: per-chunk digests
# The same file, LocalAI dialect, with the hash given, in turns: plain (one PUT, no per-request
# digest), chunked (16 MiB PUTs, no digest: what chunking alone costs, a durable sync per PUT)
# and --chunk-digest (16 MiB PUTs, each with Content-Digest; each chunk read once into memory,
# the next one read ahead; the server verifies it in the same pass as the whole-file hash).
# Then the two that matter when the stager hashes the file itself (an empty hash cache each):
# plain, and --chunk-digest, whose chunk digests come from that same pass (rs_hash_grid).
row_digest() {
  log "row 10: per-chunk digests, ${SIZE_MIB} MiB x $RUNS (resumable-upload plain / 16M chunks / --chunk-digest, given and own hash)"
  local r t v order
  upload_has --chunk-digest || { fail digest_on "resumable-upload has no --chunk-digest"; return; }
  start_serve || { fail digest_on "resumable-serve did not start"; return; }
  for r in $(seq "$RUNS"); do
    case $((r % 3)) in 1) order="plain chunked on hplain hon" ;;
      2) order="on hon plain hplain chunked" ;; 0) order="hplain chunked hon on plain" ;; esac
    for v in $order; do
      settle_warm
      case $v in
        plain) set -- --sha256 "$SHA" --no-chunk-digest ;;
        chunked) set -- --sha256 "$SHA" --chunk-size 16M --no-chunk-digest ;;
        on) set -- --sha256 "$SHA" --chunk-digest ;;
        hplain) set -- --no-chunk-digest ;;
        hon) set -- --chunk-digest ;;
      esac
      rm -rf "$WORK/dcache"; mkdir -p "$WORK/dcache"
      t=$(XDG_CACHE_HOME=$WORK/dcache wall "$UPLOAD" --quiet --protocol localai "$@" "$FILE" \
        "$SRV_URL/digest-$v-$r")
      [ -n "$t" ] && add "digest_$v" "$t" || fail "digest_$v" "resumable-upload ($v) failed"
      delete "$SRV_URL/digest-$v-$r"
    done
  done
  stop_serve
}

# ---------------------------------------------------------------- S3 rows (bench/s3_rows.sh)
source "$ROOT/bench/s3_rows.sh"

# ---------------------------------------------------------------- run
# run ROW FUNCTION KEYS...: runs the row unless --only leaves it out (its keys then say so).
run() {
  local row=$1 fn=$2 k
  shift 2
  if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$row,"* ]]; then
    for k in "$@"; do FAIL[$k]="not run (--only)"; done
    return
  fi
  "$fn"
}
T_START=$(now)
run hashing row_hashing hash_mbedtls hash_portable hash_sha-ni hash_openssl
run ingest row_ingest ingest_whole ingest_verified ingest_inline ingest_nginx ingest_discard \
  ingest_ngx_whole ingest_ngx_verified \
  cpu_whole_user cpu_whole_sys cpu_verified_user cpu_verified_sys ingest_dd ingest_ddsync \
  curl_cpu_whole curl_cpu_discard cpu_discard_user cpu_discard_sys
run client row_client client_curl client_sha client_cold client_warm client_ngxcurl client_ngxsha
run resume row_resume resume_ratio resume_body resume_attempts
run memory row_memory_commit rss_small rss_size rss_big commit_small commit_size commit_big
run relay row_relay relay_uncut relay_capped relay_wire relay_attempts relay_cuts
run concurrency row_concurrency conc_one conc_agg conc_ngx2 conc_ngx1
run rss row_rss_target rss_conc
run tus row_tus tus_js_ours tus_js_peer tus_up_tus tus_up_localai par_1 par_2 par_4 \
  ietf_js_ours tus_up_ietf
run digest row_digest digest_plain digest_chunked digest_on digest_hplain digest_hon
run s3 row_s3 s3_curl s3_ingest s3_rss_size s3_rss_small s3_fleet
T_TOTAL=$(elapsed "$T_START" "$(now)")

# ---------------------------------------------------------------- table
# show KEY UNIT: the median with its unit, or why there is none.
# What two cores allow: a transfer that needs C CPU-seconds (server + curl, both on this
# machine) takes at least C/2 s whatever the overlap. Printed for the whole-file PUT and for the
# discard-only server, with the SHA-256 floor (one stream hashes on one core).
cpu_ceiling() {
  local su ss cc du ds dc sha
  su=$(med cpu_whole_user) ss=$(med cpu_whole_sys) cc=$(med curl_cpu_whole)
  du=$(med cpu_discard_user) ds=$(med cpu_discard_sys) dc=$(med curl_cpu_discard)
  sha=$(med hash_sha-ni)
  [ -n "$su" ] && [ -n "$ss" ] && [ -n "$cc" ] || return 0
  echo
  awk -v su="$su" -v ss="$ss" -v cc="$cc" -v du="${du:-}" -v ds="${ds:-}" -v dc="${dc:-}" \
    -v sha="${sha:-}" -v size="$SIZE" -v disc="$(med ingest_discard)" 'BEGIN {
    c = su + ss + cc
    printf "CPU bound (2 cores): a whole-file PUT to resumable-serve costs %.2f CPU-s (server %.2f +", c, su + ss
    printf " curl %.2f), so it cannot beat %.2f s = %.0f MB/s however well it overlaps", cc, c / 2, size / (c / 2) / 1e6
    if (du != "" && ds != "" && dc != "")
      printf "; the discard-only server costs %.2f CPU-s with curl (%.0f MB/s ceiling)", du + ds + dc, size / ((du + ds + dc) / 2) / 1e6
    if (sha != "" && disc != "") {
      printf ". 0.7 x discard = %.0f MB/s needs the whole PUT in %.2f s (%.2f CPU-s on 2 cores),", 0.7 * disc, size / (0.7 * disc * 1e6), 2 * size / (0.7 * disc * 1e6)
      printf " while hashing alone takes %.2f s of one core at %.0f MB/s (SHA-NI)", size / (sha * 1e6), sha
    }
    printf ".\n"
  }'
}

show() {
  local m
  m=$(med "$1")
  if [ -n "$m" ]; then
    printf '%s%s' "$m" "${2:+ $2}"
    [ "$RUNS" -gt 1 ] && printf ' (%s)' "$(printf '%s\n' ${S[$1]} | sort -g | tr '\n' ' ' | sed 's/ $//;s/ /, /g')"
  else
    printf '%s' "${FAIL[$1]:-n/a (feature missing)}"
  fi
}
# ratio A B [invert]: median(A) / median(B), "" if either is missing.
ratio() {
  local a b
  a=$(med "$1") b=$(med "$2")
  [ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", a / b }'
}
# rx A B: the ratio with an x, or n/a.
rx() { local r; r=$(ratio "$1" "$2"); [ -n "$r" ] && echo "${r}x" || echo "n/a"; }
# target NAME RATIO OP LIMIT: a table row with PASS/MISS.
target() {
  local name=$1 r=$2 op=$3 lim=$4 verdict
  if [ -z "$r" ]; then
    printf '| %s | n/a (feature missing or failed) | %s %s | n/a |\n' "$name" "$op" "$lim"
    return
  fi
  verdict=$(awk -v r="$r" -v l="$lim" -v op="$op" 'BEGIN {
    ok = (op == ">=") ? (r >= l) : (r <= l); print ok ? "PASS" : "MISS" }')
  printf '| %s | %s | %s %s | %s |\n' "$name" "$r" "$op" "$lim" "$verdict"
}

ingest_vs() { local r; r=$(ratio "$1" "$2"); [ -n "$r" ] && printf '%sx %s' "$r" "$3"; }
{
  echo "# libresumable benchmarks"
  echo
  echo "\`bench/run.sh$([ "$QUICK" = 1 ] && echo " --quick") --runs $RUNS\`, $(date -u '+%Y-%m-%d %H:%M UTC'), ${T_TOTAL%.*} s."
  echo "Loopback, ${SIZE_MIB} MiB random file in the page cache; each figure is the median of $RUNS"
  echo "run(s) (all samples in parentheses); MB/s = 10^6 bytes/s. Server storage: $(df -PT "$PARENT" | awk 'NR == 2 { print $2 }') under $PARENT."
  echo
  echo "| # | figure | value |"
  echo "|---|---|---|"
  echo "| 1 | ingest: resumable-serve, whole-file PUT (curl -T, no hash) | $(show ingest_whole MB/s) |"
  echo "| 1 | ingest: resumable-serve, Content-Range PUT with bound hash (answered 200) | $(show ingest_verified MB/s) |"
  echo "| 1 | ingest: the same verified PUT, hashing inline on the receiving thread (\`--hash-threads 0\`) | $(show ingest_inline MB/s) |"
  echo "| 1 | server CPU for one whole-file PUT: user / system | $(show cpu_whole_user s) / $(show cpu_whole_sys s) |"
  echo "| 1 | server CPU for one verified PUT: user / system | $(show cpu_verified_user s) / $(show cpu_verified_sys s) |"
  echo "| 1 | client CPU (curl, user+system) for one whole-file PUT to resumable-serve | $(show curl_cpu_whole s) |"
  echo "| 1 | ingest: nginx + resumable module, whole-file PUT (curl -T, no hash) | $(show ingest_ngx_whole MB/s) |"
  echo "| 1 | ingest: nginx + resumable module, Content-Range PUT with bound hash (answered 200) | $(show ingest_ngx_verified MB/s) |"
  echo "| 1 | ingest: nginx WebDAV PUT (curl -T) | $(show ingest_nginx MB/s) |"
  echo "| 1 | ingest: discard-only libmicrohttpd (curl -T) | $(show ingest_discard MB/s) |"
  echo "| 1 | discard-only server CPU user / system, and curl's CPU, for one PUT | $(show cpu_discard_user s) / $(show cpu_discard_sys s), curl $(show curl_cpu_discard s) |"
  echo "| 1 | storage: \`dd\` of the file into the temp dir, no sync / with a final fsync | $(show ingest_dd MB/s) / $(show ingest_ddsync MB/s) |"
  echo "| 2 | hashing: mbedTLS SHA-256 API over the file | $(show hash_mbedtls MB/s) |"
  echo "| 2 | hashing: rs_sha256 portable path (mbedTLS block function) | $(show hash_portable MB/s) |"
  echo "| 2 | hashing: rs_sha256 SHA-NI path | $(show hash_sha-ni MB/s) |"
  echo "| 2 | hashing: \`openssl dgst -sha256\` (process start included) | $(show hash_openssl MB/s) |"
  echo "| 3 | client: \`curl -T\` to resumable-serve, wall | $(show client_curl s) |"
  echo "| 3 | client: \`resumable-upload --sha256 HEX\`, wall | $(show client_sha s) |"
  echo "| 3 | client: \`resumable-upload\`, hashing itself (cold cache), wall | $(show client_cold s) |"
  echo "| 3 | client: \`resumable-upload\`, warm hash cache, wall | $(show client_warm s) |"
  echo "| 3 | client: \`curl -T\` to nginx + resumable module, wall | $(show client_ngxcurl s) |"
  echo "| 3 | client: \`resumable-upload --sha256 HEX\` to nginx + resumable module, wall | $(show client_ngxsha s) |"
  echo "| 3 | client: hashing by the stager (cold - --sha256) | $(a=$(med client_cold) b=$(med client_sha);
    [ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f s", a - b }' || echo n/a) |"
  echo "| 4 | resume, 10 cuts: wire bytes the client sent / file size (stager's wire_bytes, from libcurl) | $(show resume_body x) |"
  echo "| 4 | resume, 10 cuts: bytes that reached the server / file size (counted by the proxy, headers included) | $(show resume_ratio x) |"
  echo "| 4 | resume: attempts (PUTs) for the upload | $(show resume_attempts '') |"
  echo "| 5 | memory: server peak RSS (VmHWM), one upload of $SMALL_MIB MiB | $(show rss_small MiB) |"
  echo "| 5 | memory: server peak RSS (VmHWM), one upload of $SIZE_MIB MiB | $(show rss_size MiB) |"
  echo "| 5 | memory: server peak RSS (VmHWM), one upload of $BIG_MIB MiB | $(show rss_big MiB) |"
  echo "| 6 | commit latency (final 1-byte PUT: verify+fsync+rename), $SMALL_MIB MiB | $(show commit_small ms) |"
  echo "| 6 | commit latency (final 1-byte PUT: verify+fsync+rename), $SIZE_MIB MiB | $(show commit_size ms) |"
  echo "| 6 | commit latency (final 1-byte PUT: verify+fsync+rename), $BIG_MIB MiB | $(show commit_big ms) |"
  echo "| 7 | one verified upload of $CONC_MIB MiB | $(show conc_one MB/s) |"
  echo "| 7 | $CONC_N concurrent verified uploads of $CONC_MIB MiB, aggregate | $(show conc_agg MB/s) |"
  echo "| 7 | aggregate / one stream | $(rx conc_agg conc_one) |"
  echo "| 7 | $CONC_N concurrent verified uploads of $CONC_MIB MiB to nginx + module, 2 workers, aggregate | $(show conc_ngx2 MB/s) |"
  echo "| 7 | $CONC_N concurrent verified uploads of $CONC_MIB MiB to nginx + module, 1 worker, aggregate | $(show conc_ngx1 MB/s) |"
  echo "| T | server peak RSS, $RSS_N concurrent verified uploads of $RSS_MIB MiB | $(show rss_conc MiB) |"
  echo "| 8 | relay: $RELAY_MIB MiB through a $((RELAY_RATE / 1000000)) MB/s relay, uncut (resumable-upload's seconds) | $(show relay_uncut s) |"
  echo "| 8 | relay: the same relay cutting each connection after $((RELAY_CAP / MiB)) MiB | $(show relay_capped s) |"
  echo "| 8 | relay cap: client wire bytes / file size | $(show relay_wire x) |"
  echo "| 8 | relay cap: attempts; connections the relay cut | $(show relay_attempts ''); $(show relay_cuts '') |"
  echo "| 9 | tus: tus-js-client (one PATCH) -> resumable-serve | $(show tus_js_ours MB/s) |"
  echo "| 9 | tus: tus-js-client (one PATCH) -> @tus/server + @tus/file-store | $(show tus_js_peer MB/s) |"
  echo "| 9 | tus: server CPU for that upload, user / system: resumable-serve (verified, durable) | $(show tus_js_ours_cpu_user s) / $(show tus_js_ours_cpu_sys s) |"
  echo "| 9 | tus: server CPU for that upload, user / system: @tus/server (node) | $(show tus_js_peer_cpu_user s) / $(show tus_js_peer_cpu_sys s) |"
  echo "| 9 | tus: \`resumable-upload --sha256 HEX --protocol tus\` -> resumable-serve, wall | $(show tus_up_tus s) |"
  echo "| 9 | tus: \`resumable-upload --sha256 HEX --protocol localai\`, wall | $(show tus_up_localai s) |"
  echo "| 9 | IETF draft: \`resumable-upload --sha256 HEX --protocol ietf\` -> resumable-serve, wall | $(show tus_up_ietf s) |"
  echo "| 9 | IETF draft: tus-js-client (ietf-draft-05, one PATCH) -> resumable-serve | $(show ietf_js_ours MB/s) |"
  echo "| 9 | tus: \`--parallel 1\`, $PAR_MIB MiB, $((PAR_RATE / 1000000)) MB/s per connection, wall | $(show par_1 s) |"
  echo "| 9 | tus: \`--parallel 2\`, the same, wall | $(show par_2 s) ($(rx par_1 par_2) faster) |"
  echo "| 9 | tus: \`--parallel 4\`, the same, wall | $(show par_4 s) ($(rx par_1 par_4) faster) |"
  echo "| 10 | digest: \`resumable-upload --sha256 HEX --protocol localai\` (plain, one PUT), wall | $(show digest_plain s) |"
  echo "| 10 | digest: the same in 16 MiB PUTs (\`--chunk-size 16M\`), no digest, wall | $(show digest_chunked s) |"
  echo "| 10 | digest: the same with \`--chunk-digest\` (16 MiB PUTs with Content-Digest), wall | $(show digest_on s) ($(rx digest_on digest_chunked) of chunked) |"
  echo "| 10 | digest: \`resumable-upload --protocol localai\` hashing the file itself (plain, one PUT), wall | $(show digest_hplain s) |"
  echo "| 10 | digest: the same with \`--chunk-digest\` (chunk digests from the same hash pass), wall | $(show digest_hon s) ($(rx digest_hon digest_hplain) of plain) |"
  s3_table
  echo
  echo "## Targets (issues 6, 10 and 12; ratios of the medians above, this run)"
  echo
  echo "| target | measured | wanted | verdict |"
  echo "|---|---|---|---|"
  target "verified ingest / openssl dgst rate" "$(ratio ingest_verified hash_openssl)" ">=" 0.8
  target "unverified ingest / nginx WebDAV" "$(ratio ingest_whole ingest_nginx)" ">=" 1.0
  target "unverified ingest / discard-only MHD" "$(ratio ingest_whole ingest_discard)" ">=" 0.7
  target "verified ingest through nginx + module / resumable-serve (issue 15)" "$(ratio ingest_ngx_verified ingest_verified)" ">=" 0.9
  target "resumable-upload --sha256 / curl -T (time)" "$(ratio client_sha client_curl)" "<=" 1.1
  target "resumable-upload cold / curl -T (time)" "$(ratio client_cold client_curl)" "<=" 1.6
  target "resumable-upload warm / curl -T (time)" "$(ratio client_warm client_curl)" "<=" 1.1
  target "relay cap: throughput / uncut (time uncut / time capped)" "$(ratio relay_uncut relay_capped)" ">=" 0.7
  target "relay cap: client wire bytes / file" "$(med relay_wire)" "<=" 1.2
  target "tus-js-client: resumable-serve / @tus/server (rate)" "$(ratio tus_js_ours tus_js_peer)" ">=" 2
  target "resumable-upload tus / localai (time)" "$(ratio tus_up_tus tus_up_localai)" "<=" 1.1
  target "--chunk-digest / plain LocalAI, hash given (time)" "$(ratio digest_on digest_plain)" "<=" 1.1
  target "--chunk-digest / plain LocalAI, stager hashing (time)" "$(ratio digest_hon digest_hplain)" "<=" 1.1
  target "resumable-upload ietf / localai (time, issue 13)" "$(ratio tus_up_ietf tus_up_localai)" "<=" 1.1
  target "--parallel 4 / --parallel 1 speed-up (20 MB/s per connection)" "$(ratio par_1 par_4)" ">=" 3.5
  rss=$(med rss_conc)
  if [ -n "$rss" ]; then
    target "server peak RSS, $RSS_N x $RSS_MIB MiB concurrent (MiB)" "$rss" "<=" 64
  else
    target "server peak RSS, $RSS_N x $RSS_MIB MiB concurrent (MiB)" "" "<=" 64
  fi
  s3_targets
  echo
  echo "Also: verified / unverified ingest $(rx ingest_verified ingest_whole);" \
    "SHA-NI / mbedTLS $(rx hash_sha-ni hash_mbedtls); SHA-NI / openssl $(rx hash_sha-ni hash_openssl);" \
    "commit latency $BIG_MIB MiB / $SMALL_MIB MiB $(rx commit_big commit_small);" \
    "peak RSS $BIG_MIB MiB / $SMALL_MIB MiB $(rx rss_big rss_small)."
  cpu_ceiling
  echo
  echo "## Machine"
  echo
  echo "- nproc $(nproc), $M_CPU ($M_SHA), memory $M_MEM, kernel $(uname -r)"
  echo "- load average at start: $M_LOAD; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- gcc: $V_GCC; libcurl $V_CURL; libmicrohttpd $V_MHD; mbedTLS ${V_MBED:-?};" \
    "nginx $V_NGINX; $V_OPENSSL"
  echo "- libresumable $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo "?")," \
    "build $(basename "$BUILD"), buildtype $(meson configure "$BUILD" 2>/dev/null | awk '$1 == "buildtype" { print $2; exit }')"
} >"$WORK/results.md"
mkdir -p "$(dirname "$OUT")"
cp "$WORK/results.md" "$OUT"
cat "$OUT"
