/* SPDX-License-Identifier: MIT */
/* The seeded mutations of the decoders' fuzz programs (when libFuzzer is not at hand). */
#ifndef TIDE_TESTS_FUZZ_MUTATE_H
#define TIDE_TESTS_FUZZ_MUTATE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15u;
static inline uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A few random changes to @p buf (@p n bytes, room for @p cap) past its first @p keep
 * bytes: bits flipped, bytes set, aligned 8-byte fields set to values that wrap or
 * overflow, the end cut or grown. Returns the new length. */
static inline size_t mutate(unsigned char *buf, size_t n, size_t cap, size_t keep)
{
    static const uint64_t wide[] = { 0, 1, 7, 8, 0xffffffffu, 0x7fffffffu, UINT64_MAX,
                                     UINT64_MAX - 2, (uint64_t)1 << 61, ((uint64_t)1 << 61) + 1,
                                     (uint64_t)1 << 32, (uint64_t)1 << 40, (uint64_t)1 << 63 };
    for (int k = 1 + (int)(next_random() % 4); k-- > 0 && n > keep;) {
        size_t at = keep + next_random() % (n - keep);
        switch (next_random() % 5) {
        case 0:
            buf[at] ^= (unsigned char)(1u << (next_random() % 8));
            break;
        case 1:
            buf[at] = (unsigned char)next_random();
            break;
        case 2:
            at = keep + ((at - keep) & ~(size_t)7);
            if (at + 8 <= n) {
                uint64_t v = wide[next_random() % (sizeof wide / sizeof *wide)];
                memcpy(buf + at, &v, 8);
            }
            break;
        case 3:
            n = at;
            break;
        default:
            if (n < cap)
                buf[n++] = (unsigned char)next_random();
        }
    }
    return n;
}

#endif
