#!/usr/bin/env bash
# examples/fleet.sh: a fleet of two resumable-serve behind nginx (round robin), sharing one S3
# bucket on a throwaway Ceph cluster. A file is uploaded through nginx with resumable-upload; the
# server that receives it is killed with SIGKILL midway; the upload finishes through the other
# server, and the file read back through nginx has the right SHA-256.
#
#   examples/fleet.sh [--build DIR] [--size MiB] [--rate BYTES/s] [--store s3|fs] [--tap] [--keep]
#
#   --build DIR  meson build directory with the tools (default: ./build)
#   --size MiB   size of the uploaded file (default 96)
#   --rate R     resumable-upload's --limit-rate, so that there is time to watch (default 16M)
#   --store fs   the two servers share one POSIX root instead of a bucket (needs a library
#                whose POSIX store is safe across processes)
#   --tap        print the checks as TAP (the test suite runs it so, see tests/s3/meson.build)
#   --keep       keep the work directory (logs, nginx.conf) and print where it is
#
# The Ceph cluster comes from tests/s3/ceph_fixture.sh (Debian 12: apt-get install ceph-mon
# ceph-osd radosgw ceph-common), started in the work directory and stopped at the end; with
# RS_S3_ENDPOINT, RS_S3_ACCESS and RS_S3_SECRET set, that cluster is used instead. nginx is
# Debian's (apt-get install nginx); it runs as you, with its files in the work directory.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build
SIZE_MIB=96
RATE=16M
STORE=s3
TAP=0
KEEP=0
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=$2; shift ;;
    --size) SIZE_MIB=$2; shift ;;
    --rate) RATE=$2; shift ;;
    --store) STORE=$2; shift ;;
    --tap) TAP=1 ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fleet.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
case $STORE in s3|fs) ;; *) echo "fleet.sh: --store is s3 or fs" >&2; exit 2 ;; esac
BUILD=$(cd "$BUILD" && pwd) || exit 2
SERVE=$BUILD/examples/serve/resumable-serve
UPLOAD=$BUILD/examples/upload/resumable-upload
LISTEN_EXEC=$BUILD/examples/fleet/listen-exec
NGINX=${NGINX:-/usr/sbin/nginx}
for exe in "$SERVE" "$UPLOAD" "$LISTEN_EXEC" "$NGINX"; do
  [ -x "$exe" ] || { echo "fleet.sh: $exe is missing (build first; nginx: apt-get install nginx)" >&2; exit 2; }
done

say() { if [ "$TAP" = 1 ]; then echo "# $*"; else echo "[fleet] $*"; fi; }
checks=0
failed=0
check() { # condition-status description
  checks=$((checks + 1))
  if [ "$1" = 0 ]; then
    [ "$TAP" = 1 ] && echo "ok $checks - $2" || echo "[fleet] ok: $2"
  else
    failed=1
    [ "$TAP" = 1 ] && echo "not ok $checks - $2" || echo "[fleet] FAILED: $2"
  fi
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/resumable-fleet.XXXXXX") || exit 1
PIDS=()
CLUSTER=""
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  [ -n "$CLUSTER" ] && "$ROOT/tests/s3/ceph_fixture.sh" down "$CLUSTER" >/dev/null 2>&1
  if [ "$KEEP" = 1 ] || [ "$failed" = 1 ]; then say "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- storage: a bucket on a Ceph cluster (ours, or the caller's), or one shared root
SERVE_ARGS=()
if [ "$STORE" = s3 ]; then
  if [ -z "${RS_S3_ENDPOINT:-}" ]; then
    say "starting a throwaway Ceph cluster (mon, osd, radosgw) in $WORK/ceph"
    CLUSTER=$WORK/ceph
    line=$("$ROOT/tests/s3/ceph_fixture.sh" up "$CLUSTER") || { echo "fleet.sh: no Ceph cluster" >&2; exit 1; }
    read -r _ RS_S3_ENDPOINT _ RS_S3_ACCESS _ RS_S3_SECRET <<<"$line"
  fi
  export AWS_ACCESS_KEY_ID=$RS_S3_ACCESS AWS_SECRET_ACCESS_KEY=$RS_S3_SECRET
  BUCKET=fleet-$$-$RANDOM
  code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --aws-sigv4 aws:amz:us-east-1:s3 \
    --user "$RS_S3_ACCESS:$RS_S3_SECRET" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
    "$RS_S3_ENDPOINT/$BUCKET")
  [ "$code" = 200 ] || { echo "fleet.sh: cannot create bucket $BUCKET at $RS_S3_ENDPOINT ($code)" >&2; exit 1; }
  say "S3 endpoint $RS_S3_ENDPOINT, bucket $BUCKET"
  SERVE_ARGS=(--store s3 --s3-endpoint "$RS_S3_ENDPOINT" --s3-bucket "$BUCKET" --s3-part-size 5M)
else
  mkdir -p "$WORK/root"
  SERVE_ARGS=(--root "$WORK/root")
  say "both servers on one POSIX root: $WORK/root"
fi

# ---- two servers, each on a port the kernel picks
start_server() { # name
  "$SERVE" --port 0 --hash-threads 1 "${SERVE_ARGS[@]}" >"$WORK/$1.out" 2>"$WORK/$1.log" &
  PIDS+=($!)
  eval "${1}_PID=$!"
  local i port=""
  for i in $(seq 300); do
    port=$(sed -n 's#^listening on http://127.0.0.1:\([0-9]*\)/$#\1#p' "$WORK/$1.out")
    [ -n "$port" ] && break
    kill -0 "$!" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "fleet.sh: server $1 did not start (see $WORK/$1.log)" >&2; cat "$WORK/$1.log" >&2; exit 1; }
  eval "${1}_PORT=$port"
}
start_server A
start_server B
say "server A: pid $A_PID, http://127.0.0.1:$A_PORT/   server B: pid $B_PID, http://127.0.0.1:$B_PORT/"

# ---- nginx in front: plain round robin (key affinity would be `hash $request_uri consistent;`
# in the upstream block: conflicts between servers then become rare; this demo wants the opposite)
mkdir -p "$WORK/nginx/tmp"
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root;" # workers would be 'nobody', who cannot write here
cat >"$WORK/nginx/nginx.conf.in" <<EOF
daemon off;
$user_line
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log notice;
events { worker_connections 256; }
http {
  access_log $WORK/nginx/access.log;
  client_body_temp_path $WORK/nginx/tmp/body;
  proxy_temp_path $WORK/nginx/tmp/proxy;
  fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
  scgi_temp_path $WORK/nginx/tmp/scgi;
  upstream fleet {
    server 127.0.0.1:$A_PORT max_fails=1 fail_timeout=30s;
    server 127.0.0.1:$B_PORT max_fails=1 fail_timeout=30s;
  }
  server {
    listen 127.0.0.1:@PORT@;
    client_max_body_size 0;
    location / {
      proxy_pass http://fleet;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_request_buffering off;
      proxy_buffering off;
      proxy_next_upstream error timeout;
      proxy_read_timeout 300s;
      proxy_send_timeout 300s;
    }
  }
}
EOF
"$LISTEN_EXEC" "$WORK/nginx/nginx.conf.in" "$WORK/nginx/nginx.conf" "$NGINX" -p "$WORK/nginx" \
  -c "$WORK/nginx/nginx.conf" >"$WORK/nginx/out" 2>&1 &
PIDS+=($!)
NGINX_PID=$!
NGINX_PORT=""
for i in $(seq 200); do
  NGINX_PORT=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$WORK/nginx/out")
  [ -n "$NGINX_PORT" ] && break
  sleep 0.05
done
[ -n "$NGINX_PORT" ] || { echo "fleet.sh: nginx did not start:" >&2; cat "$WORK/nginx/out" >&2; exit 1; }
FRONT=http://127.0.0.1:$NGINX_PORT/v1/files
say "nginx (round robin over A and B): $FRONT/"

# ---- the file and the upload
SIZE=$((SIZE_MIB * 1024 * 1024))
head -c "$SIZE" /dev/urandom >"$WORK/file.bin"
SHA=$(sha256sum "$WORK/file.bin" | cut -d' ' -f1)
say "uploading $SIZE_MIB MiB (sha256 $SHA) through nginx at $RATE/s"
"$UPLOAD" --json --quiet --no-hash-cache --sha256 "$SHA" --limit-rate "$RATE" \
  --backoff-min 300 --budget 600 "$WORK/file.bin" "$FRONT/fleet/file.bin" >"$WORK/upload.json" \
  2>"$WORK/upload.log" &
UPLOAD_PID=$!

# Connections established to a server's port now (from /proc/net/tcp; state 01): only the one
# that nginx opened for the upload's body, once the probes are answered.
established() {
  local hex
  hex=$(printf '%04X' "$1")
  awk -v h=":$hex" 'NR > 1 && $4 == "01" && toupper(substr($2, length($2) - 4)) == h' \
    /proc/net/tcp | wc -l
}
# Bytes the shared storage holds for the upload: HEAD on both servers directly. The one that
# receives the body answers from its open upload (bytes not yet durable included); the other
# reads the storage: the smaller figure is what a takeover would find.
head_held() {
  curl -s -I "http://127.0.0.1:$1/v1/files/fleet/file.bin" |
    sed -n 's/^X-File-Size: \([0-9]*\).*/\1/p' | tr -d '\r'
}
held() {
  local a b
  a=$(head_held "$A_PORT")
  b=$(head_held "$B_PORT")
  a=${a:-0} b=${b:-0}
  echo $((a < b ? a : b))
}

# ---- wait until a third of the file is durable, then kill the server that receives it
last=""
h=0
while kill -0 "$UPLOAD_PID" 2>/dev/null; do
  h=$(held)
  h=${h:-0}
  [ "$h" != "$last" ] && say "the storage holds $((h / 1024 / 1024)) MiB" && last=$h
  [ "$h" -ge $((SIZE / 3)) ] && break
  sleep 0.1
done
if [ "$(established "$A_PORT")" -ge "$(established "$B_PORT")" ]; then VICTIM=A VPID=$A_PID; else VICTIM=B VPID=$B_PID; fi
if kill -0 "$UPLOAD_PID" 2>/dev/null && [ "$h" -lt "$SIZE" ]; then
  kill -KILL "$VPID" 2>/dev/null
  killed=$?
  wait "$VPID" 2>/dev/null
  say "kill -9 server $VICTIM (pid $VPID), which was receiving the body, with $((h / 1024 / 1024)) MiB durable"
else
  killed=1
  say "the upload ended before a third of it was durable: nothing killed (a larger --size or a lower --rate)"
fi
wait "$UPLOAD_PID"
rc=$?
say "resumable-upload: $(cat "$WORK/upload.json")"

field() { sed -n "s/.*\"$1\": \\([^,}]*\\).*/\\1/p" "$WORK/upload.json" | tr -d '"'; }
check $((killed != 0 || h < SIZE / 3)) "a server was killed with a third of the file durable"
check $((rc != 0)) "resumable-upload finished (exit status $rc)"
check $(( $(field attempts || echo 0) < 2 )) "it took more than one attempt (attempts: $(field attempts))"
got=$(curl -s "$FRONT/fleet/file.bin" | sha256sum | cut -d' ' -f1)
[ "$got" = "$SHA" ]
check $? "the file read back through nginx has the right SHA-256"
wire=$(field wire_bytes)
ratio=$(awk -v w="${wire:-0}" -v s="$SIZE" 'BEGIN { printf "%.2f", w / s }')
say "wire bytes / file size: $ratio (resumed from what the killed server had made durable)"
awk -v r="$ratio" 'BEGIN { exit !(r < 1.5) }'
check $? "the resume sent the file about once (wire / size $ratio < 1.5)"
echo "fleet: wire/size $ratio" >"$WORK/result"
[ "$TAP" = 1 ] && echo "1..$checks"
exit $failed
