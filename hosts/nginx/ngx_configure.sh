#!/bin/sh
# Generate what a dynamic module for the installed nginx is compiled against, the way Debian's
# module packages do: nginx's own configure, run with the flags the packaged nginx was built with
# (conf_flags from nginx-dev) and our addon, in a scratch copy (the source tree is read-only).
# Usage: ngx_configure.sh NGINX_SRC ADDON_DIR OUT_DIR
# Writes OUT_DIR/ngx_auto_config.h, ngx_auto_headers.h, ngx_http_resumable_module_modules.c.
set -eu
src=$1 addon=$2 out=$3
work=$out/ngx-configure
rm -rf "$work"
mkdir -p "$work"
cp -R "$src/auto" "$src/configure" "$work/"
ln -s "$src/src" "$work/src"
# conf_flags is a bash array assignment: read it with bash, print one flag per line.
flags=$(bash -c '. "$1" && printf "%s\n" "${NGX_CONF_FLAGS[@]}"' sh "$src/conf_flags")
cd "$work"
# One flag per line: none of Debian's flags contains a newline.
old_ifs=$IFS
IFS='
'
# shellcheck disable=SC2086
if ! env -u CFLAGS -u LDFLAGS -u CPPFLAGS ./configure $flags --add-dynamic-module="$addon" \
    >configure.log 2>&1; then
  IFS=$old_ifs
  cat configure.log >&2
  exit 1
fi
IFS=$old_ifs
for f in ngx_auto_config.h ngx_auto_headers.h ngx_http_resumable_module_modules.c; do
  cp objs/$f "$out/$f"
done
