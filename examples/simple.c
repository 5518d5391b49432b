/* SPDX-License-Identifier: MIT */
/* The README's first example: the numbers 0..9 as a stream, each printed as it passes. */
#include <inttypes.h>
#include <stdio.h>

#include <tide.h>

static void show(const tide_time *t, const void *record, void *ctx)
{
    (void)t;
    (void)ctx;
    printf("seen: %" PRIu64 "\n", *(const uint64_t *)record);
}

static int simple(tide_worker *w, void *ctx)
{
    (void)ctx;
    uint64_t numbers[10];
    for (uint64_t i = 0; i < 10; i++)
        numbers[i] = i;
    tide_scope *scope = tide_dataflow_begin(w, "simple");
    tide_inspect(tide_to_stream(scope, TIDE_U64, numbers, 10), show, NULL);
    tide_dataflow_end(scope);
    return 0;
}

int main(void)
{
    return tide_example(simple, NULL);
}
