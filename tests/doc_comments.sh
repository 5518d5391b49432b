#!/bin/sh
# SPDX-License-Identifier: MIT
# Every public function has a doc comment: in the installed headers each declaration of a
# tide_ function follows a comment, directly or as one of a group of declarations under one.
set -u
src=${TIDE_SRCDIR:-.}
status=0
for h in "$src/include/tide.h" "$src/include/tide/"*.h; do
  awk -v file="${h#"$src"/}" '
    BEGIN { doc = 0; incomment = 0; n = 0; bad = 0 }
    {
      line = $0
      if (incomment) { if (line ~ /\*\//) { incomment = 0; doc = 1 } ; next }
      if (line ~ /^[ \t]*\/\*/) {
        if (line ~ /\*\//) { doc = 1 } else { incomment = 1 }
        next
      }
      if (line ~ /^[ \t]*$/ || line ~ /^#/ || line ~ /typedef|^}|^[a-z_ ]*struct[^(]*\{/) { doc = 0; next }
      if (line ~ /^[A-Za-z_]/ && line !~ /^extern "C"/ &&
          match(line, /tide_[a-z][a-z0-9_]*[ ]*\(/)) {
        n++
        if (!doc) { name = substr(line, RSTART, RLENGTH - 1); printf "%s:%d: %s has no doc comment\n", file, NR, name; bad++ }
      }
    }
    END { printf "%s: %d functions, %d undocumented\n", file, n, bad; exit bad > 0 }' "$h" || status=1
done
exit $status
