#!/bin/sh
# SPDX-License-Identifier: MIT
# Every option tide's parser takes (src/comm/config.c) is documented in the tide-options(7)
# man page, in doc/running.md and in the README; the man page renders without warnings when
# man(1) is there.
set -u
src=${TIDE_SRCDIR:-.}
status=0
opts=$(grep -o '"--[a-z][a-z-]*"\|"-w"' "$src/src/comm/config.c" | tr -d '"' | sort -u)
[ -n "$opts" ] || { echo "FAIL: no options found in config.c"; exit 1; }
for o in $opts; do
  esc=$(echo "$o" | sed 's/-/\\\\-/g')
  grep -q -- "$esc" "$src/doc/tide-options.7" || { echo "FAIL: $o is not in doc/tide-options.7"; status=1; }
  grep -q -- "\`$o" "$src/doc/running.md" || { echo "FAIL: $o is not in doc/running.md"; status=1; }
  grep -q -- "\`$o" "$src/README.md" || { echo "FAIL: $o is not in the README"; status=1; }
done
echo "options: $(echo "$opts" | paste -sd' ')"
if command -v man >/dev/null 2>&1 && command -v groff >/dev/null 2>&1; then
  warn=$(LC_ALL=C MANWIDTH=80 man --warnings -l "$src/doc/tide-options.7" 2>&1 >/dev/null)
  if [ -n "$warn" ]; then echo "$warn"; echo "FAIL: tide-options.7 renders with warnings"; status=1
  else echo "ok: tide-options.7 renders"; fi
fi
exit $status
