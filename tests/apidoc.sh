#!/bin/sh
# SPDX-License-Identifier: MIT
# make doc builds the API reference from the headers with doxygen, and doxygen finds every
# public function, type, field, macro and constant documented: any warning fails.
# Skipped when configure found no doxygen.
set -u
b=${TIDE_BUILDDIR:-.}
grep -q '^DOXYGEN = /' "$b/Makefile" || { echo "skipped: no doxygen (Debian: doxygen)"; exit 77; }
out=$(mktemp); trap 'rm -f "$out"' EXIT
rm -rf "$b/doc/api"
make -s -C "$b" doc >"$out" 2>&1 || { cat "$out"; echo "FAIL: make doc"; exit 1; }
status=0
log=$b/doc/api/warnings.log
[ -f "$b/doc/api/html/index.html" ] || { echo "FAIL: no doc/api/html/index.html"; status=1; }
# every header has its page, and a function from each is on it
for f in comm dataflow operators progress; do
  grep -rqs "tide_" "$b/doc/api/html/${f}_8h.html" || { echo "FAIL: no page for $f.h"; status=1; }
done
if grep . "$log"; then echo "FAIL: doxygen's warnings (above): every public name needs a doc comment"; status=1
else echo "ok: doxygen finds every public name documented"; fi
exit $status
