#!/bin/sh
# TAP test: install into a temporary DESTDIR, build consumer.c with `pkg-config resumable`.
set -u
build=$1 consumer=$2 shlib=$3 sanitize=${4:-none}
# A sanitized library needs a consumer built with the same runtime.
sanflags=
[ "$sanitize" = none ] || sanflags="-fsanitize=$sanitize"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "1..3"

if meson install -C "$build" --no-rebuild --quiet --destdir "$tmp/dest" >"$tmp/install.log" 2>&1; then
  echo "ok 1 - install_into_temporary_destdir"
else
  echo "not ok 1 - install_into_temporary_destdir"; sed 's/^/# /' "$tmp/install.log"
fi

pc=$(find "$tmp/dest" -name resumable.pc | head -n 1)
libdir=$(dirname "$(find "$tmp/dest" -name 'libresumable.so*' | head -n 1)")
if [ -n "$pc" ] &&
   flags=$(PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$tmp/dest" \
           pkg-config --cflags --libs resumable) &&
   ${CC:-cc} -std=c11 -Wall -Wextra -Wpedantic -Werror $sanflags -o "$tmp/consumer" "$consumer" $flags \
     >"$tmp/cc.log" 2>&1 &&
   LD_LIBRARY_PATH="$libdir" "$tmp/consumer" "$tmp/root" >"$tmp/run.log" 2>&1; then
  echo "ok 2 - consumer_builds_and_runs_through_installed_pkgconfig"
else
  echo "not ok 2 - consumer_builds_and_runs_through_installed_pkgconfig"
  echo "# pc=$pc flags=${flags:-}"
  cat "$tmp/cc.log" "$tmp/run.log" 2>/dev/null | sed 's/^/# /'
fi

leaked=$(nm -D --defined-only "$shlib" | awk '$2 ~ /^[TDBRW]$/ {print $3}' | grep -v '^resumable_' || true)
if [ -z "$leaked" ]; then
  echo "ok 3 - shared_library_exports_only_resumable_symbols"
else
  echo "not ok 3 - shared_library_exports_only_resumable_symbols"
  echo "$leaked" | sed 's/^/# leaked: /'
fi
