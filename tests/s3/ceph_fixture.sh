#!/usr/bin/env bash
# ceph_fixture.sh up DIR | down DIR
#
# A throwaway single-node Ceph cluster with an S3 gateway, for the S3 tests and the benchmark:
# one monitor, one OSD, radosgw (beast) on loopback, no cephx (auth none), every file under DIR,
# nothing in /etc/ceph, no systemd, no root needed. `up` prints, once S3 answers:
#   endpoint http://127.0.0.1:PORT access KEY secret SECRET
# and writes the same line to DIR/endpoint. `down` stops the daemons it started (their recorded
# pids, only if they still run with DIR's ceph.conf) in the order rgw, osd, mon, and removes DIR.
#
# Environment: RS_CEPH_STORE=memstore (default; every byte in RAM, about twice over),
# filestore or bluestore (a sparse file, for GiB runs); RS_CEPH_GB (capacity, default 4);
# RS_CEPH_TIMEOUT (seconds, default 60).
# Needs Debian 12's ceph-mon ceph-osd radosgw ceph-common (Ceph 16.2).
set -euo pipefail

cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: $0 up|down DIR" >&2; exit 2; }

# A process that exists and is not a zombie (kill -0 succeeds on zombies).
running() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) && [ "$state" != Z ]
}

ours() { # pid: still one of DIR's daemons?
  running "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$DIR/ceph.conf"
}

down() {
  [ -d "$DIR" ] || return 0
  local n pid i
  # One at a time: an OSD whose monitor is gone waits seconds for an answer that never comes.
  for n in rgw osd mon; do
    [ -f "$DIR/run/$n.pid" ] || continue
    pid=$(cat "$DIR/run/$n.pid")
    ours "$pid" || continue
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 100); do running "$pid" || break; sleep 0.05; done
    running "$pid" && kill -KILL "$pid" 2>/dev/null
  done
  [ "${RS_CEPH_KEEP:-0}" = 1 ] || rm -rf "$DIR"
}

if [ "$cmd" = down ]; then
  down
  exit 0
fi
[ "$cmd" = up ] || { echo "usage: $0 up|down DIR" >&2; exit 2; }

STORE=${RS_CEPH_STORE:-memstore}
GB=${RS_CEPH_GB:-4}
TMO=${RS_CEPH_TIMEOUT:-60}
ACCESS=RSTESTACCESS0000001
SECRET=rstestsecret000000000000000000000000001
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
[ ! -e "$DIR/ceph.conf" ] || { echo "ceph_fixture: $DIR already holds a cluster" >&2; exit 1; }
mkdir -p "$DIR"/{mon,osd,rgw,run,log}
CONF=$DIR/ceph.conf
deadline=$((SECONDS + TMO))

fail() {
  echo "ceph_fixture: $*" >&2
  tail -n 5 "$DIR"/log/*.out >&2 2>/dev/null || true
  RS_CEPH_KEEP=1 down
  exit 1
}

start() { # name command...: a foreground daemon, in the background, its pid recorded
  local n=$1
  shift
  "$@" -f </dev/null >"$DIR/log/$n.out" 2>&1 &
  echo $! >"$DIR/run/$n.pid"
}

alive() { # name: fail if that daemon is gone
  ours "$(cat "$DIR/run/$1.pid")" || fail "$1 exited"
}

# The TCP port that process $1 listens on (from /proc: its socket inodes in the LISTEN table).
listen_port() {
  local pid=$1 inodes line
  inodes=$(ls -l "/proc/$pid/fd" 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\].*/\1/p')
  [ -n "$inodes" ] || return 1
  while read -r line; do
    set -- $line
    # sl local rem st ... inode (10th field); st 0A = LISTEN
    [ "$4" = 0A ] || continue
    if grep -qx "${10}" <<<"$inodes"; then
      echo $((16#${2##*:}))
      return 0
    fi
  done < <(tail -n +2 "/proc/$pid/net/tcp")
  return 1
}

# The monitor's address must be in its map before it starts, so it cannot bind port 0: take a
# random port below the kernel's ephemeral range (no outgoing connection can hold it), not
# listening now, and try another if the monitor still fails to bind it.
pick_port() {
  local p hex
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 12000))
    printf -v hex ':%04X ' "$p"
    grep -qi "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}

case $STORE in
  memstore) STORE_CONF="memstore device bytes = $((GB << 30))" ;;
  filestore) STORE_CONF="osd journal = $DIR/osd/journal
osd journal size = 128
osd max object name len = 256
osd max object namespace len = 64" ;;
  bluestore) STORE_CONF="bluestore block path = $DIR/osd/block
bluestore block create = true
bluestore block size = $((GB << 30))
bluestore cache autotune = false
bluestore cache size = 134217728
osd memory target = 939524096" ;;
  *) fail "unknown RS_CEPH_STORE=$STORE" ;;
esac

write_conf() { # mon port
  cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$1
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
mon cluster log file = $DIR/log/cluster.log
crash dir = $DIR/run
keyring = $DIR/keyring
log to stderr = false
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd crush chooseleaf type = 0
[mon]
mon data = $DIR/mon
mon data avail crit = 0
mon data avail warn = 0
# every mon command (RGW runs a dozen on its first start) waits for paxos: 1 s by default
paxos propose interval = 0.01
paxos min wait = 0.001
[osd]
osd data = $DIR/osd
osd objectstore = $STORE
$STORE_CONF
osd crush initial weight = 1
osd op num shards = 2
osd op num threads per shard = 1
[client]
# radosgw asks for ms_mon_client_mode = secure, which cannot work without cephx
ms mon client mode = crc secure
rgw data = $DIR/rgw
rgw frontends = beast endpoint=127.0.0.1:0
rgw thread pool size = 16
# give deleted, overwritten and aborted data back within seconds, not after 2 h
rgw gc obj min wait = 10
rgw gc processor period = 10
EOF
}

FSID=$(cat /proc/sys/kernel/random/uuid)
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
export CEPH_CONF=$CONF

# ---- monitor (a new port if the chosen one was taken meanwhile)
for attempt in 1 2 3 4 5; do
  port=$(pick_port) || fail "no free port for the monitor"
  write_conf "$port"
  rm -rf "$DIR/mon" && mkdir -p "$DIR/mon"
  monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$port]" "$DIR/monmap" \
    >"$DIR/log/monmap.out" 2>&1 || fail "monmaptool failed"
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" >"$DIR/log/mkfs-mon.out" 2>&1 ||
    fail "ceph-mon --mkfs failed"
  start mon ceph-mon -c "$CONF" -i a
  until [ "$(listen_port "$(cat "$DIR/run/mon.pid")" 2>/dev/null)" = "$port" ]; do
    ours "$(cat "$DIR/run/mon.pid")" || break
    [ $SECONDS -lt $deadline ] || fail "the monitor did not listen within ${TMO}s"
    sleep 0.05
  done
  ours "$(cat "$DIR/run/mon.pid")" && break
  [ "$attempt" -lt 5 ] || fail "the monitor could not start (port in use?)"
done

# ---- OSD ("osd new" waits for the monitor's quorum)
id=$(ceph -c "$CONF" --connect-timeout "$TMO" osd new "$OSD_UUID" 2>>"$DIR/log/ceph.err") ||
  fail "ceph osd new failed"
[ "$id" = 0 ] || fail "unexpected OSD id '$id'"
ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID" >"$DIR/log/mkfs-osd.out" 2>&1 ||
  fail "ceph-osd --mkfs failed"
start osd ceph-osd -c "$CONF" -i 0
# radosgw started before the OSD is up sits for seconds waiting for a newer map
until ceph -c "$CONF" osd dump 2>/dev/null | grep -q '^osd\.0 up'; do
  alive osd
  [ $SECONDS -lt $deadline ] || fail "osd.0 not up within ${TMO}s"
  sleep 0.05
done

# ---- radosgw on port 0; its port is read back from /proc
start rgw radosgw -c "$CONF" -n client.rgw.a
rgw_port=""
until [ -n "$rgw_port" ] && curl -fsS -o /dev/null "http://127.0.0.1:$rgw_port/" 2>/dev/null; do
  alive rgw
  [ $SECONDS -lt $deadline ] || fail "radosgw did not answer within ${TMO}s"
  [ -n "$rgw_port" ] || rgw_port=$(listen_port "$(cat "$DIR/run/rgw.pid")" || true)
  sleep 0.05
done
radosgw-admin -c "$CONF" user create --uid=test --display-name=test \
  --access-key="$ACCESS" --secret-key="$SECRET" >"$DIR/log/user.out" 2>&1 ||
  fail "radosgw-admin user create failed"

line="endpoint http://127.0.0.1:$rgw_port access $ACCESS secret $SECRET"
echo "$line" >"$DIR/endpoint"
echo "$line"
