#!/bin/sh
# SPDX-License-Identifier: MIT
# libtide.so exports the public API and nothing else: every symbol it defines for others is
# named tide_ and a letter (of the internal tide__ names only the five the headers' inline
# code calls) and is declared in an installed header. Prints the count and the list.
set -u
b=${TIDE_BUILDDIR:-.}
src=${TIDE_SRCDIR:-.}
so=$b/.libs/libtide.so
[ -f "$so" ] || { echo "skipped: no $so (a static-only build)"; exit 77; }
status=0
syms=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRV]$/ { print $3 }' | sort -u)
n=$(echo "$syms" | grep -c .)
echo "libtide.so exports $n symbols:"
echo "$syms" | paste -sd' ' | fold -s -w 100
headers="$src/include/tide.h $src/include/tide/*.h $b/include/tide/version.h"
# The internal names the headers call (the inline fast paths of tide_input_send,
# tide_input_extend, tide_session_give, tide_session_give_str and tide_session_extend).
leaked=$(echo "$syms" | grep -v '^tide_[a-z]' |
         grep -vx -e 'tide__input_send' -e 'tide__input_extend' -e 'tide__session_give' \
             -e 'tide__session_give_str' -e 'tide__session_extend')
if [ -n "$leaked" ]; then
  echo "FAIL: exported but not public API: $(echo "$leaked" | paste -sd' ')"; status=1
fi
for s in $syms; do
  # shellcheck disable=SC2086
  grep -qw "$s" $headers || { echo "FAIL: $s is exported but no installed header declares it"; status=1; }
done
[ "$n" -gt 50 ] || { echo "FAIL: only $n symbols: is the API missing?"; status=1; }
exit $status
