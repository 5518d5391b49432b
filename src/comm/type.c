/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "batch_internal.h"

static size_t bytes_size(const void *v) { return ((const tide_bytes *)v)->len; }
static void bytes_encode(const void *v, void *out)
{
    const tide_bytes *b = v;
    if (b->len)
        memcpy(out, b->data, b->len);
}
static void bytes_decode(const void *in, size_t len, void *v)
{
    tide_bytes *b = v;
    b->data = in;
    b->len = len;
}

/* Strings travel with their NUL so that decoding can point into the batch. */
static size_t str_size(const void *v) { return strlen(*(const char *const *)v) + 1; }
static void str_encode(const void *v, void *out)
{
    const char *s = *(const char *const *)v;
    memcpy(out, s, strlen(s) + 1);
}
static void str_decode(const void *in, size_t len, void *v)
{
    (void)len;
    *(const char **)v = in;
}

const tide_type tide_type_u64 = { "u64", sizeof(uint64_t), 0, 0, 0, 0 };
const tide_type tide_type_i64 = { "i64", sizeof(int64_t), 0, 0, 0, 0 };
const tide_type tide_type_f64 = { "f64", sizeof(double), 0, 0, 0, 0 };
const tide_type tide_type_u32 = { "u32", sizeof(uint32_t), 0, 0, 0, 0 };
const tide_type tide_type_bytes = { "bytes", 0, bytes_size, bytes_encode, bytes_decode,
                                    sizeof(tide_bytes) };
const tide_type tide_type_str = { "str", 0, str_size, str_encode, str_decode,
                                  sizeof(const char *) };

bool tide_type_valid_encoding(const tide_type *t, const void *bytes, size_t len)
{
    if (t == &tide_type_str)
        return len > 0 && ((const unsigned char *)bytes)[len - 1] == 0;
    return true;
}

bool tide_type_equal(const tide_type *a, const tide_type *b)
{
    return a == b || (a->size == b->size && strcmp(a->name, b->name) == 0);
}

uint32_t tide__type_tag(const tide_type *t)
{
    /* FNV-1a over the name, then the size: enough to catch a mismatched channel. */
    uint32_t h = 2166136261u;
    for (const char *c = t->name; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    for (size_t s = t->size, i = 0; i < sizeof s; i++, s >>= 8)
        h = (h ^ (s & 0xff)) * 16777619u;
    return h;
}
