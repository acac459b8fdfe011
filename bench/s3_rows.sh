# bench/s3_rows.sh: the S3 store's rows of bench/run.sh (sourced by it; uses its helpers).
#
# A throwaway Ceph cluster (tests/s3/ceph_fixture.sh) whose OSD keeps data on disk (filestore:
# memstore would hold every GiB in RAM twice), then, on one bucket:
#   - curl uploading the file as a multipart upload in the store's part size, one part after
#     the other on one connection (create, every UploadPart, complete): the baseline;
#   - resumable-serve --store s3 ingesting the same file (curl -T with Content-Range and the
#     bound hash, answered 200 once verified and completed), and the server's peak RSS, also
#     for a small file (flat in file size: one part buffer per upload);
#   - examples/fleet.sh: two servers behind nginx, the receiving one killed after a third of the
#     file; wire bytes / file size of the upload that finished through the other.
# Figures: s3_curl, s3_ingest (MB/s), s3_rss_size, s3_rss_small (MiB), s3_fleet (x).

S3_PART_MIB=8
S3_CEPH=""
S3_ENDPOINT="" S3_ACCESS="" S3_SECRET="" S3_BUCKET=""

s3_cluster_up() {
  S3_CEPH=$WORK/ceph
  local line
  line=$(RS_CEPH_STORE=${RS_CEPH_STORE:-filestore} RS_CEPH_GB=$((SIZE_MIB / 256 + 8)) \
    "$ROOT/tests/s3/ceph_fixture.sh" up "$S3_CEPH" 2>"$WORK/ceph.err") || {
    S3_CEPH=""
    return 1
  }
  read -r _ S3_ENDPOINT _ S3_ACCESS _ S3_SECRET <<<"$line"
  S3_BUCKET=bench-$$
  [ "$(s3_curl -o /dev/null -w '%{http_code}' -X PUT "$S3_ENDPOINT/$S3_BUCKET")" = 200 ]
}
s3_cluster_down() {
  [ -n "$S3_CEPH" ] && "$ROOT/tests/s3/ceph_fixture.sh" down "$S3_CEPH" >/dev/null 2>&1
  S3_CEPH=""
}
# curl signed for the cluster (curl 7.88 needs the payload hash header from us).
s3_curl() {
  curl -sS --aws-sigv4 aws:amz:us-east-1:s3 --user "$S3_ACCESS:$S3_SECRET" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@" 2>>"$WORK/curl.err"
}

# The baseline: FILE as a multipart upload of OBJECT in parts of S3_PART_MIB, parts cut
# beforehand (not timed). Prints the seconds, or nothing on failure.
s3_curl_multipart() { # OBJECT
  local obj=$1 dir=$WORK/parts upload etags t0 t1 i args=() n xml
  mkdir -p "$dir"
  [ -f "$dir/part.0000" ] || split -a 4 -d -b "${S3_PART_MIB}M" "$FILE" "$dir/part."
  n=$(ls "$dir" | wc -l)
  t0=$(now)
  upload=$(s3_curl -X POST "$S3_ENDPOINT/$S3_BUCKET/$obj?uploads=" |
    sed -n 's/.*<UploadId>\(.*\)<\/UploadId>.*/\1/p')
  [ -n "$upload" ] || return 0
  for i in $(seq 0 $((n - 1))); do
    args+=(-T "$dir/part.$(printf %04d "$i")"
      "$S3_ENDPOINT/$S3_BUCKET/$obj?partNumber=$((i + 1))&uploadId=$upload")
  done
  etags=$(s3_curl -g -o /dev/null -w '%header{etag}\n' "${args[@]}")
  xml="<CompleteMultipartUpload>"
  i=1
  while read -r e; do
    xml+="<Part><PartNumber>$i</PartNumber><ETag>$e</ETag></Part>"
    i=$((i + 1))
  done <<<"$etags"
  xml+="</CompleteMultipartUpload>"
  [ $((i - 1)) = "$n" ] || return 0
  s3_curl -o /dev/null -X POST -H 'Content-Type: application/xml' --data-binary "$xml" \
    "$S3_ENDPOINT/$S3_BUCKET/$obj?uploadId=$upload" || return 0
  t1=$(now)
  [ "$(s3_curl -o /dev/null -w '%{http_code}' -I "$S3_ENDPOINT/$S3_BUCKET/$obj")" = 200 ] &&
    elapsed "$t0" "$t1"
}

s3_serve_start() {
  local dir=$WORK/s3serve
  mkdir -p "$dir"
  AWS_ACCESS_KEY_ID=$S3_ACCESS AWS_SECRET_ACCESS_KEY=$S3_SECRET "$SERVE" --port 0 --store s3 \
    --s3-endpoint "$S3_ENDPOINT" --s3-bucket "$S3_BUCKET" --s3-part-size "${S3_PART_MIB}M" \
    >"$dir/out" 2>"$dir/err" &
  SRV_PID=$!
  PIDS+=("$SRV_PID")
  SRV_PORT=$(wait_port "$dir/out") || return 1
  SRV_URL=http://127.0.0.1:$SRV_PORT/v1/files
}

row_s3() {
  log "S3 rows: Ceph RGW (${RS_CEPH_STORE:-filestore}), ${SIZE_MIB} MiB x $RUNS: curl multipart vs resumable-serve --store s3; fleet resume"
  if [ ! -x "$ROOT/tests/s3/ceph_fixture.sh" ] || ! command -v radosgw >/dev/null; then
    fail s3_ingest "n/a (needs ceph-mon ceph-osd radosgw ceph-common)"
    return
  fi
  s3_cluster_up || { fail s3_ingest "the Ceph cluster did not start: $(tail -1 "$WORK/ceph.err")"; s3_cluster_down; return; }
  local r t code small=$WORK/zero$SMALL_MIB
  for r in $(seq "$RUNS"); do
    settle
    t=$(s3_curl_multipart "curl-$r")
    [ -n "$t" ] && add s3_curl "$(mbps "$SIZE" "$t")" || fail s3_curl "curl's multipart upload failed"
    s3_curl -o /dev/null -X DELETE "$S3_ENDPOINT/$S3_BUCKET/curl-$r"
    settle
    s3_serve_start || { fail s3_ingest "resumable-serve --store s3 did not start"; break; }
    vargs "$SIZE" "$SHA"
    read -r code t < <(curl_put "$SRV_URL/ingest-$r" "$FILE" "${VARGS[@]}")
    if [ "$code" = 200 ]; then
      add s3_ingest "$(mbps "$SIZE" "$t")"
      add s3_rss_size "$(awk -v k="$(hwm_kib "$SRV_PID")" 'BEGIN { printf "%.1f", k / 1024 }')"
    else
      fail s3_ingest "the verified PUT answered HTTP $code"
    fi
    delete "$SRV_URL/ingest-$r"
    stop_pid "$SRV_PID"
    s3_serve_start || break
    vargs $((SMALL_MIB * MiB)) "${ZSHA[$SMALL_MIB]}"
    read -r code t < <(curl_put "$SRV_URL/small-$r" "$small" "${VARGS[@]}")
    [ "$code" = 200 ] &&
      add s3_rss_small "$(awk -v k="$(hwm_kib "$SRV_PID")" 'BEGIN { printf "%.1f", k / 1024 }')"
    delete "$SRV_URL/small-$r"
    stop_pid "$SRV_PID"
  done
  local out ratio
  if [ -x "$ROOT/examples/fleet.sh" ] && [ -n "$NGINX" ]; then
    for r in $(seq "$RUNS"); do
      out=$(RS_S3_ENDPOINT=$S3_ENDPOINT RS_S3_ACCESS=$S3_ACCESS RS_S3_SECRET=$S3_SECRET \
        NGINX=$NGINX "$ROOT/examples/fleet.sh" --build "$BUILD" --size "$((SIZE_MIB / 4))" \
        --rate 64M 2>&1)
      ratio=$(sed -n 's/.*wire bytes \/ file size: \([0-9.]*\).*/\1/p' <<<"$out")
      if [ -n "$ratio" ] && ! grep -q FAILED <<<"$out"; then
        add s3_fleet "$ratio"
      else
        fail s3_fleet "examples/fleet.sh failed: $(grep -m1 FAILED <<<"$out")"
      fi
    done
  else
    fail s3_fleet "n/a (needs nginx)"
  fi
  s3_cluster_down
}

s3_table() {
  echo "| S3 | Ceph RGW multipart upload by curl, ${S3_PART_MIB} MiB parts in sequence on one connection | $(show s3_curl MB/s) |"
  echo "| S3 | ingest: resumable-serve --store s3, verified PUT, ${S3_PART_MIB} MiB parts | $(show s3_ingest MB/s) |"
  echo "| S3 | server peak RSS (VmHWM), one upload of $SIZE_MIB MiB / of $SMALL_MIB MiB | $(show s3_rss_size MiB) / $(show s3_rss_small MiB) |"
  echo "| S3 | fleet: server killed after a third, finished through the other: wire bytes / file size ($((SIZE_MIB / 4)) MiB) | $(show s3_fleet x) |"
}
s3_targets() {
  target "S3 ingest / curl multipart to the same RGW" "$(ratio s3_ingest s3_curl)" ">=" 0.8
  target "S3 server peak RSS, $SIZE_MIB MiB / $SMALL_MIB MiB upload" "$(ratio s3_rss_size s3_rss_small)" "<=" 1.2
}
