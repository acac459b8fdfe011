#!/bin/sh
# TAP test: install into a temporary DESTDIR, build consumer.c with `pkg-config resumable`.
set -u
build=$1 consumer=$2 shlib=$3 sanitize=${4:-none} client=${5:-yes} curl=${6:-yes}
# A sanitized library needs a consumer built with the same runtime.
sanflags=
[ "$sanitize" = none ] || sanflags="-fsanitize=$sanitize"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "1..5"

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

# What the build holds, as pkg-config and the generated header say it.
hdr=$(find "$tmp/dest" -path '*/resumable/features.h' | head -n 1)
want_has=1; [ "$client" = yes ] || want_has=0
if [ -n "$pc" ] &&
   [ "$(PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --variable=client resumable)" = "$client" ] &&
   grep -q "^#define RESUMABLE_HAS_CLIENT $want_has\$" "$hdr" &&
   { [ "$client" = yes ] || [ -z "$(find "$tmp/dest" -name stager.h)" ]; }; then
  echo "ok 4 - pkgconfig_and_features_h_say_whether_the_client_is_built"
else
  echo "not ok 4 - pkgconfig_and_features_h_say_whether_the_client_is_built"
  echo "# client=$client header=$hdr"; cat "$hdr" "$pc" 2>/dev/null | sed 's/^/# /'
fi

# libcurl is linked and required exactly when the client or the S3 store is built.
needed=no; readelf -d "$shlib" | grep -q 'NEEDED.*libcurl' && needed=yes
required=no; grep -q '^Requires.private:.*libcurl' "$pc" 2>/dev/null && required=yes
if [ "$needed" = "$curl" ] && [ "$required" = "$curl" ]; then
  echo "ok 5 - libcurl_linked_only_with_the_client_or_s3"
else
  echo "not ok 5 - libcurl_linked_only_with_the_client_or_s3"
  echo "# expected $curl, NEEDED: $needed, Requires.private: $required"
fi
