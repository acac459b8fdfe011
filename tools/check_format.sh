#!/bin/sh
# TAP test: every C file the project tracks is formatted as .clang-format says (clang-format 14,
# Debian 12's). Fix with: git ls-files '*.c' '*.h' | xargs clang-format -i
set -u
src=$1 fmt=${2:-clang-format}
cd "$src" || exit 1
echo "1..1"
# The tracked files; outside a git checkout, every C file but the npm peers'.
files() {
  git ls-files '*.c' '*.h' 2>/dev/null ||
    find . -name node_modules -prune -o -name 'build*' -prune -o \( -name '*.c' -o -name '*.h' \) -print
}
bad=$(files | while read -r f; do
  "$fmt" --dry-run --Werror "$f" >/dev/null 2>&1 || echo "$f"
done)
if [ -z "$bad" ]; then
  echo "ok 1 - every_c_file_is_clang_formatted"
else
  echo "not ok 1 - every_c_file_is_clang_formatted"
  echo "$bad" | sed 's/^/# not formatted: /'
  echo "# fix: git ls-files '*.c' '*.h' | xargs $fmt -i"
fi
