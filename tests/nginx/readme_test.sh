#!/bin/bash
# The README's "Resumable uploads in nginx" steps, run as written where a test can (TAP output):
# its `meson install --tags nginx` (into a DESTDIR), its nginx location block (its root moved to
# a scratch directory) behind the installed mod-http-resumable.conf, and its two upload commands
# (the server's URL swapped for a free port). nginx runs as the test's user, daemon off, on a
# port nginx-host bound first (see nginx_host.c).
# Usage: readme_test.sh SOURCE_DIR BUILD_DIR NGINX_HOST NGINX
set -u
src=$1 build=$2 launcher=$3 nginx=$4
t=$(mktemp -d /tmp/rs-readme-XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill -TERM -- "-$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$t"
}
trap cleanup EXIT
n=0 failed=0
check() { # description, then a command that must succeed
  local what=$1
  shift
  n=$((n + 1))
  if "$@" >"$t/out.$n" 2>&1; then
    echo "ok $n - $what"
  else
    echo "not ok $n - $what"
    sed 's/^/# /' "$t/out.$n"
    failed=1
  fi
}
echo "1..5"

# The section, and its fenced blocks: block N of language L, printed without its fences.
section() { awk '/^## Resumable uploads in nginx/{on=1; next} /^## /{on=0} on' "$src/README.md"; }
block() { section | awk -v lang="$1" -v want="$2" '
  /^```/ { if (inside) { inside=0; next } if ($0 == "```" lang) { k++; if (k == want) inside=1; next } }
  inside'; }

# 1. The install commands in the README are the ones this test runs.
readme_has() {
  block sh 1 | grep -qxF 'meson install -C build-nginx --tags nginx' &&
    block sh 1 | grep -qF 'ln -sf /usr/share/nginx/modules-available/mod-http-resumable.conf /etc/nginx/modules-enabled/' &&
    block nginx 1 | grep -qF 'resumable_root /srv/uploads;'
}
check "the README section has the install and config steps" readme_has

# 2. meson install --tags nginx puts the module and its snippet where Debian's nginx looks.
installed() {
  meson install -C "$build" --tags nginx --destdir "$t/dest" --no-rebuild --quiet &&
    test -f "$t/dest/usr/lib/nginx/modules/ngx_http_resumable_module.so" &&
    grep -qxF 'load_module modules/ngx_http_resumable_module.so;' \
      "$t/dest/usr/share/nginx/modules-available/mod-http-resumable.conf"
}
check "meson install --tags nginx installs the module and mod-http-resumable.conf" installed

# 3. nginx accepts the README's location block, loading the module through the installed
# snippet (relative to nginx's prefix, as on Debian, where modules/ is /usr/lib/nginx/modules).
start_nginx() {
  mkdir -p "$t/run" "$t/uploads" &&
    ln -s "$t/dest/usr/lib/nginx/modules" "$t/run/modules" &&
    {
      echo "daemon off; master_process on; worker_processes 1;"
      echo "pid @DIR@/nginx.pid; error_log @DIR@/error.log info;"
      [ "$(id -u)" = 0 ] && echo "user root;"
      echo "include $t/dest/usr/share/nginx/modules-available/mod-http-resumable.conf;"
      echo "events { }"
      echo "http {"
      echo "  access_log @DIR@/access.log;"
      for k in client_body proxy fastcgi uwsgi scgi; do echo "  ${k}_temp_path @DIR@/tmp_$k;"; done
      echo "  server {"
      echo "    listen 127.0.0.1:@PORT@;"
      block nginx 1 | sed "s|/srv/uploads|$t/uploads|"
      echo "  }"
      echo "}"
    } >"$t/nginx.conf.in" &&
    mkfifo "$t/url" || return 1
  "$launcher" --nginx "$nginx" --dir "$t/run" --conf-template "$t/nginx.conf.in" >"$t/url" &
  pid=$!
  local line
  read -r -t 60 line <"$t/url" || return 1
  url=${line#listening on }
  url=${url%/}
  [ -n "$url" ]
}
url=
check "nginx starts with the README's location block" start_nginx

# 4 and 5. The README's upload commands, against that nginx.
head -c $((5 * 1024 * 1024 + 3)) /dev/urandom >"$t/big.img"
run_readme_command() { # the line of block sh 2 that starts with $1
  local cmd
  cmd=$(block sh 2 | grep -m1 "^$1") || return 1
  cmd=${cmd//http:\/\/127.0.0.1/$url}
  cmd=${cmd//.\/build\//$build\/}
  echo "+ $cmd"
  (cd "$t" && eval "$cmd") || return 1
  cmp "$t/big.img" "$t/uploads/big.img"
}
curl_upload() { run_readme_command "curl -T " && curl -sf -X DELETE "$url/v1/files/big.img"; }
check "the README's curl -T stores the file" curl_upload
check "the README's resumable-upload stores the file" run_readme_command "./build/examples/upload/resumable-upload "
exit $failed
