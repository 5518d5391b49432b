#!/bin/sh
# SPDX-License-Identifier: MIT
# The public headers are C++ too: a C++ program including <tide.h> and using the inline
# parts (sessions, inputs, record types, vectors) compiles warning-free as C++11 and C++17,
# links against the library (extern "C" names) and runs.
set -u
[ "${TIDE_SANITIZED:-0}" = 1 ] && { echo "skipped: sanitizer build"; exit 77; }
b=${TIDE_BUILDDIR:-.}
src=${TIDE_SRCDIR:-.}
cxx=
for c in mpicxx mpic++; do
  if command -v "$c" >/dev/null 2>&1; then cxx=$c; break; fi
done
[ -n "$cxx" ] || { echo "skipped: no MPI C++ compiler (mpicxx)"; exit 77; }
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
status=0
cat >"$d/prog.cpp" <<'CXX'
#include <tide.h>

struct pair {
    uint64_t key, val;
};
static TIDE_TYPE_POD(pair_type, struct pair);

static void add(tide_op *op, void *arg)
{
    uint64_t *sum = static_cast<uint64_t *>(arg);
    tide_cap *cap;
    tide_batch *b;
    while (tide_op_next(op, 0, &cap, &b)) {
        tide_session *out = tide_op_session(op, 0, cap);
        const pair *p = static_cast<const pair *>(tide_batch_records(b));
        for (size_t i = 0; i < tide_batch_len(b); i++) {
            *sum += p[i].val;
            tide_session_give(out, &p[i]);
        }
    }
}

static int run(tide_worker *w, void *arg)
{
    uint64_t sum = 0;
    tide_input *in;
    tide_scope *scope = tide_dataflow_begin(w, "cplusplus");
    tide_stream *s = tide_input_new(scope, &pair_type, &in);
    tide_probe *probe = tide_probe_new(tide_unary(s, TIDE_PIPELINE, "Add", &pair_type, add,
                                                  &sum, NULL));
    tide_dataflow_end(scope);
    for (uint64_t i = 1; i <= 100; i++) {
        pair p = { i, i };
        tide_input_send(in, &p);
    }
    tide_input_close(in);
    while (!tide_probe_done(probe))
        tide_worker_step(w);
    tide_vec v = TIDE_VEC(uint64_t);
    TIDE_VEC_PUSH(&v, uint64_t, sum);
    *static_cast<uint64_t *>(arg) = TIDE_VEC_AT(&v, uint64_t, 0);
    tide_vec_free(&v);
    return 0;
}

int main(int argc, char **argv)
{
    tide_config cfg;
    if (tide_config_init(&cfg) != 0 || tide_config_from_args(&cfg, &argc, argv) != 0)
        return 2;
    uint64_t sum = 0;
    if (tide_execute(&cfg, run, &sum) != 0)
        return 1;
    return sum == 5050 ? 0 : 3;
}
CXX
for std in c++11 c++17; do
  if "$cxx" -std=$std -Wall -Wextra -Werror -I"$src/include" -I"$b/include" "$d/prog.cpp" \
       -o "$d/prog" -L"$b/.libs" -ltide >"$d/log" 2>&1; then
    echo "ok: <tide.h> in C++ ($std, -Wall -Wextra -Werror), linked"
  else
    cat "$d/log"; echo "FAIL: <tide.h> in C++ ($std)"; status=1; continue
  fi
  LD_LIBRARY_PATH="$b/.libs" timeout 30 "$d/prog" -w 1 --bind none >"$d/out" 2>&1; rc=$?
  if [ $rc -eq 0 ]; then echo "ok: the C++ program runs (-w 1: the sum of 1..100)"
  else cat "$d/out"; echo "FAIL: the C++ program ($std) exited $rc"; status=1; fi
done
exit $status
