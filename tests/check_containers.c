/* SPDX-License-Identifier: MIT */
/* tide_vec, tide_table and tide_consolidate, checked against plain arrays. */
#include "check_main.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tide.h>

static uint64_t rng(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 17;
}

struct pt {
    uint32_t x, y, z; /* 12 bytes: not a multiple of 8 */
};
static TIDE_TYPE_POD(pt_type, struct pt);

START_TEST(test_vec)
{
    uint64_t held = tide_memory_held();
    tide_vec v = TIDE_VEC(struct pt);
    for (uint32_t i = 0; i < 10000; i++)
        tide_vec_push(&v, &(struct pt){ i, 2 * i, 3 * i });
    struct pt *more = tide_vec_extend(&v, 5);
    for (uint32_t i = 0; i < 5; i++)
        more[i] = (struct pt){ 7, 7, i };
    ck_assert_uint_eq(v.len, 10005);
    ck_assert_uint_ge(v.cap, v.len);
    for (uint32_t i = 0; i < 10000; i++)
        ck_assert(TIDE_VEC_AT(&v, struct pt, i).y == 2 * i && TIDE_VEC_AT(&v, struct pt, i).z == 3 * i);
    ck_assert_uint_eq(TIDE_VEC_AT(&v, struct pt, 10004).z, 4);
    ck_assert_uint_ge(tide_memory_held(), held + v.cap * sizeof(struct pt));
    tide_vec_reserve(&v, 100000);
    ck_assert_uint_ge(v.cap, 100000);
    ck_assert_uint_eq(v.len, 10005);
    tide_vec_free(&v);
    ck_assert_ptr_null(v.data);
    ck_assert_uint_eq(v.len, 0);
    ck_assert_uint_eq(tide_memory_held(), held);
    tide_vec_push(&v, &(struct pt){ 1, 2, 3 }); /* reusable after free */
    ck_assert_uint_eq(v.len, 1);
    tide_vec_free(&v);
}
END_TEST

/* A table of 12-byte keys against a plain array of counts: gets, finds, removes, and the
 * iteration seeing each live key once with its state. */
START_TEST(test_table_fixed)
{
    enum { N = 3000 };
    static uint64_t count[N];
    static bool present[N];
    memset(count, 0, sizeof count);
    memset(present, 0, sizeof present);
    uint64_t held = tide_memory_held();
    tide_table *t = tide_table_new(&pt_type, sizeof(uint64_t), NULL, NULL, NULL);
    uint64_t s = 1;
    for (int step = 0; step < 100000; step++) {
        uint32_t k = (uint32_t)(rng(&s) % N);
        struct pt key = { k, k ^ 0x5555, 77 };
        tide_table_prefetch(t, &key); /* a hint: changes nothing */
        if (rng(&s) % 5 == 0) {
            ck_assert(tide_table_remove(t, &key) == present[k]);
            present[k] = false;
            count[k] = 0;
        } else {
            uint64_t *c = tide_table_get(t, &key);
            ck_assert_uint_eq(*c, count[k]); /* zeroed when new */
            ++*c;
            count[k]++;
            present[k] = true;
        }
    }
    size_t live = 0;
    for (uint32_t k = 0; k < N; k++) {
        struct pt key = { k, k ^ 0x5555, 77 };
        uint64_t *c = tide_table_find(t, &key);
        ck_assert(present[k] == (c != NULL));
        if (c)
            ck_assert_uint_eq(*c, count[k]);
        live += present[k];
    }
    ck_assert_uint_eq(tide_table_len(t), live);
    ck_assert_uint_gt(tide_memory_held(), held);
    size_t cursor = 0, seen = 0;
    struct pt key;
    void *state;
    while (tide_table_next(t, &cursor, &key, &state)) {
        ck_assert(key.x < N && key.y == (key.x ^ 0x5555) && key.z == 77 && present[key.x]);
        ck_assert_uint_eq(*(uint64_t *)state, count[key.x]);
        seen++;
    }
    ck_assert_uint_eq(seen, live);
    tide_table_free(t);
    ck_assert_uint_eq(tide_memory_held(), held);
    tide_table_free(NULL);
}
END_TEST

/* A set of strings with the caller's hash and equality. */
static bool same_str(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    return strcmp(*(const char *const *)a, *(const char *const *)b) == 0;
}

/* Each string table test runs twice: with the caller's equality (the table calls both
 * functions), and with tide_same_str (the table hashes and compares inline). */
static tide_same_fn str_equality(int i) { return i ? tide_same_str : same_str; }

START_TEST(test_table_strings)
{
    tide_table *t = tide_table_new(TIDE_STR, 0, tide_hash_str, str_equality(_i), NULL);
    const char *words[] = { "a", "bb", "a", "ccc", "bb", "", "" };
    bool fresh[] = { true, true, false, true, false, true, false };
    for (size_t i = 0; i < 7; i++)
        ck_assert(tide_table_add(t, &words[i]) == fresh[i]);
    ck_assert_uint_eq(tide_table_len(t), 4);
    const char *absent = "zz";
    tide_table_prefetch(t, &absent);
    ck_assert_ptr_null(tide_table_find(t, &absent));
    ck_assert_ptr_nonnull(tide_table_find(t, &words[3]));
    size_t cursor = 0, total = 0;
    const char *w;
    while (tide_table_next(t, &cursor, &w, NULL))
        total += strlen(w) + 1;
    ck_assert_uint_eq(total, 2 + 3 + 4 + 1);
    tide_table_free(t);
}
END_TEST

/* Variable-length keys through the table's growth and rebuilds, with removals between:
 * 20,000 words each with its number as state, every third removed, then every word looked
 * up and the survivors walked, against what was put in. */
static void word_of(char *word, size_t n, uint64_t i)
{
    snprintf(word, n, "w%" PRIu64 "x", i * 7919);
}

START_TEST(test_table_strings_many)
{
    enum { N = 20000 };
    tide_table *t = tide_table_new(TIDE_STR, sizeof(uint64_t), tide_hash_str,
                                   str_equality(_i), NULL);
    char word[32];
    const char *p = word;
    for (int round = 0; round < 2; round++) {
        for (uint64_t i = 0; i < N; i++) {
            word_of(word, sizeof word, i);
            *(uint64_t *)tide_table_get(t, &p) = i;
        }
        for (uint64_t i = 0; i < N; i += 3) {
            word_of(word, sizeof word, i);
            ck_assert(tide_table_remove(t, &p));
            ck_assert(!tide_table_remove(t, &p));
        }
        ck_assert_uint_eq(tide_table_len(t), N - (N + 2) / 3);
        size_t wrong = 0;
        for (uint64_t i = 0; i < N; i++) {
            word_of(word, sizeof word, i);
            uint64_t *st = tide_table_find(t, &p);
            wrong += i % 3 ? !st || *st != i : st != NULL;
        }
        ck_assert_uint_eq(wrong, 0);
        size_t cursor = 0, seen = 0;
        const char *w;
        void *st;
        while (tide_table_next(t, &cursor, &w, &st)) {
            uint64_t i = *(uint64_t *)st;
            word_of(word, sizeof word, i);
            wrong += i % 3 == 0 || strcmp(w, word) != 0;
            seen++;
        }
        ck_assert_uint_eq(wrong, 0);
        ck_assert_uint_eq(seen, N - (N + 2) / 3);
    }
    tide_table_free(t);
}
END_TEST

/* tide_table_get_n against tide_table_get's answers: batches of keys read from inside
 * records (a stride of 24 bytes), new and known keys mixed, a key twice in a batch, the
 * empty batch, a batch that grows a table of 10 keys to 50,000 (every state it handed out
 * still valid: each is written through after the call), and a table with removed keys. */
struct keyed_rec {
    struct pt key;
    uint32_t pad;
    uint64_t val;
};

START_TEST(test_table_get_n)
{
    enum { N = 50000, KEYS = 60000 };
    static struct keyed_rec recs[N];
    static uint64_t want[KEYS];
    static void *states[N];
    memset(want, 0, sizeof want);
    tide_table *t = tide_table_new(&pt_type, sizeof(uint64_t), NULL, NULL, NULL);
    uint64_t s = 7, wrong = 0;
    size_t sizes[] = { 10, 0, 1, 300, N, 5000 };
    for (size_t b = 0; b < sizeof sizes / sizeof *sizes; b++) {
        size_t n = sizes[b];
        for (size_t i = 0; i < n; i++) {
            uint32_t k = b == 4 ? (uint32_t)i : (uint32_t)(rng(&s) % KEYS);
            if (i == 3 && n > 3)
                k = recs[1].key.x; /* twice in one batch */
            recs[i] = (struct keyed_rec){ { k, ~k, 5 }, 0, k };
        }
        tide_table_get_n(t, &recs[0].key, sizeof *recs, n, states);
        for (size_t i = 0; i < n; i++) { /* zeroed when new, then one more each time */
            uint32_t k = recs[i].key.x;
            uint64_t *c = states[i];
            wrong += *c != want[k];
            ++*c;
            want[k]++;
        }
        ck_assert_uint_eq(wrong, 0);
        if (b == 2) /* removed keys: their slots are cleaned when the next batch grows */
            for (uint32_t k = 0; k < KEYS; k += 2) {
                struct pt key = { k, ~k, 5 };
                if (tide_table_remove(t, &key))
                    want[k] = 0;
            }
    }
    size_t live = 0;
    for (uint32_t k = 0; k < KEYS; k++) {
        struct pt key = { k, ~k, 5 };
        const uint64_t *c = tide_table_find(t, &key);
        wrong += want[k] ? !c || *c != want[k] : c != NULL;
        live += want[k] != 0;
    }
    ck_assert_uint_eq(wrong, 0);
    ck_assert_uint_eq(tide_table_len(t), live);
    tide_table_free(t);
}
END_TEST

/* Tables past 2 MiB are mapped in huge pages (tide__table_alloc): 200,000 u64 keys (8 MiB
 * of slots) and 300,000 strings (8 MiB of slots), each key's state checked after removals,
 * their memory counted while they live and given back when they go. */
START_TEST(test_table_large)
{
    enum { N = 200000, NS = 300000 };
    uint64_t held = tide_memory_held();
    tide_table *t = tide_table_new(TIDE_U64, sizeof(uint64_t), NULL, NULL, NULL);
    for (uint64_t k = 0; k < N; k++) {
        uint64_t key = k * 0x9e3779b97f4a7c15ull;
        tide_table_prefetch(t, &key);
        *(uint64_t *)tide_table_get(t, &key) = 3 * k + 1;
    }
    for (uint64_t k = 0; k < N; k += 4) {
        uint64_t key = k * 0x9e3779b97f4a7c15ull;
        ck_assert(tide_table_remove(t, &key));
    }
    uint64_t wrong = 0;
    for (uint64_t k = 0; k < N; k++) {
        uint64_t key = k * 0x9e3779b97f4a7c15ull;
        const uint64_t *st = tide_table_find(t, &key);
        wrong += k % 4 ? !st || *st != 3 * k + 1 : st != NULL;
    }
    ck_assert_uint_eq(wrong, 0);
    ck_assert_uint_eq(tide_table_len(t), N - N / 4);
    ck_assert_uint_ge(tide_memory_held(), held + ((uint64_t)8 << 20));
    tide_table *s = tide_table_new(TIDE_STR, sizeof(uint64_t), tide_hash_str, same_str, NULL);
    char word[32];
    const char *p = word;
    for (uint64_t i = 0; i < NS; i++) {
        word_of(word, sizeof word, i);
        *(uint64_t *)tide_table_get(s, &p) = i;
    }
    for (uint64_t i = 0; i < NS; i++) {
        word_of(word, sizeof word, i);
        const uint64_t *st = tide_table_find(s, &p);
        wrong += !st || *st != i;
    }
    ck_assert_uint_eq(wrong, 0);
    ck_assert_uint_eq(tide_table_len(s), NS);
    ck_assert_uint_ge(tide_memory_held(), held + ((uint64_t)16 << 20));
    tide_table_free(t);
    tide_table_free(s);
    ck_assert_uint_eq(tide_memory_held(), held);
}
END_TEST

static int by_key(const void *a, const void *b)
{
    uint64_t x = ((const tide_diff *)a)->key, y = ((const tide_diff *)b)->key;
    return (x > y) - (x < y);
}

/* Against qsort and a summing pass, for short (insertion sort) and long runs, with keys of
 * every width, from 0 or from a base (the dense path sums from the least key; bases near
 * the top of the range check that its span does not overflow). Keys spanning less than
 * twice the run and 2^18 values take the dense path (100,000 changes of 17-bit keys, or
 * 300,000 of 18), the others the radix sort. */
START_TEST(test_consolidate)
{
    static const size_t lens[] = { 0, 1, 2, 40, 64, 65, 1000, 50000, 100000, 300000 };
    static const unsigned bits[] = { 1, 8, 12, 17, 18, 19, 23, 34, 64 };
    static const uint64_t bases[] = { 0, 1ull << 40, UINT64_MAX - (1ull << 20) };
    uint64_t s = 9;
    size_t nlens = sizeof lens / sizeof *lens, nbits = sizeof bits / sizeof *bits;
    for (size_t run = 0; run < nlens * nbits * 3; run++) {
        size_t li = run / (nbits * 3), bi = run / 3 % nbits, ba = run % 3, n = lens[li];
        if (bits[bi] > 20 && ba)
            continue;
        tide_diff *d = malloc((n ? n : 1) * sizeof *d), *want = malloc((n ? n : 1) * sizeof *d);
        ck_assert(d && want);
        for (size_t i = 0; i < n; i++) {
            uint64_t k = rng(&s) ^ (rng(&s) << 40);
            d[i].key = bases[ba] + (bits[bi] == 64 ? k : k & ((1ull << bits[bi]) - 1));
            d[i].diff = (int64_t)(rng(&s) % 5) - 2;
        }
        memcpy(want, d, n * sizeof *d);
        qsort(want, n, sizeof *want, by_key);
        size_t m = 0;
        for (size_t i = 0; i < n;) {
            tide_diff c = want[i++];
            while (i < n && want[i].key == c.key)
                c.diff += want[i++].diff;
            if (c.diff)
                want[m++] = c;
        }
        size_t got = tide_consolidate(d, n), wrong = 0;
        ck_assert_uint_eq(got, m);
        for (size_t i = 0; i < m; i++) /* one check: check's asserts are slow */
            wrong += d[i].key != want[i].key || d[i].diff != want[i].diff;
        ck_assert_uint_eq(wrong, 0);
        free(d);
        free(want);
    }
}
END_TEST

/* tide_hash_str spreads strings over workers and table slots: 60,000 distinct words of 3
 * to 42 letters (up to six 8-byte chunks, every tail length; a number in base 26, then
 * 'a's, so that many differ only in their length) all get distinct hashes, and the low 6
 * bits (a table's slot, the worker of 64) fill each of 64 buckets to within 15% of the
 * mean; the same string gives the same hash wherever it is stored; "" and the 702 words
 * of one and two letters all differ too. */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* tide_same_str against strcmp: strings of 0 to 40 bytes, each against itself in another
 * buffer, against the same with one byte changed at every position, and against its
 * prefixes and its extensions by one byte (every tail the overlapping loads read). */
START_TEST(test_same_str)
{
    char a[48], b[48];
    for (size_t len = 0; len <= 40; len++) {
        for (size_t i = 0; i < len; i++)
            a[i] = (char)('a' + (i * 7 + len) % 26);
        a[len] = 0;
        memcpy(b, a, len + 1);
        const char *pa = a, *pb = b;
        ck_assert(tide_same_str(&pa, &pb, NULL));
        for (size_t i = 0; i < len; i++) {
            b[i] = (char)(a[i] == 'z' ? 'a' : a[i] + 1);
            ck_assert_msg(!tide_same_str(&pa, &pb, NULL), "length %zu, byte %zu", len, i);
            b[i] = a[i];
        }
        for (size_t cut = 0; cut < len; cut++) {
            b[cut] = 0;
            ck_assert(!tide_same_str(&pa, &pb, NULL) && !tide_same_str(&pb, &pa, NULL));
            b[cut] = a[cut];
        }
        b[len] = 'q';
        b[len + 1] = 0;
        ck_assert(!tide_same_str(&pa, &pb, NULL) && !tide_same_str(&pb, &pa, NULL));
    }
}
END_TEST

START_TEST(test_hash_str)
{
    enum { N = 60000 };
    uint64_t *h = malloc(N * sizeof *h);
    size_t bucket[64] = { 0 };
    char word[48];
    ck_assert_ptr_nonnull(h);
    for (size_t i = 0; i < N; i++) {
        size_t len = 3 + i % 40;
        uint64_t x = i / 40 + 1; /* < 26^3 */
        for (size_t k = 0; k < len; k++) { /* i / 40 in base 26, then 'a's */
            word[k] = (char)('a' + x % 26);
            x /= 26;
        }
        word[len] = 0;
        const char *p = word;
        h[i] = tide_hash_str(&p, NULL);
        bucket[h[i] & 63]++;
        char copy[48];
        memcpy(copy, word, len + 1);
        p = copy;
        ck_assert_uint_eq(tide_hash_str(&p, NULL), h[i]);
    }
    qsort(h, N, sizeof *h, cmp_u64);
    for (size_t i = 1; i < N; i++)
        ck_assert_msg(h[i] != h[i - 1], "two words of the %d share a hash", (int)N);
    for (size_t b = 0; b < 64; b++)
        ck_assert_msg(bucket[b] * 64 > N * 85 / 100 && bucket[b] * 64 < N * 115 / 100,
                      "bucket %zu of 64 holds %zu of %d hashes", b, bucket[b], (int)N);
    /* the shortest words, read by their own path: "", and every word of 1 and 2 letters */
    size_t n = 0;
    for (size_t len = 0; len <= 2; len++)
        for (size_t i = 0; i < (len == 0 ? 1 : len == 1 ? 26 : 676); i++) {
            word[0] = (char)('a' + i % 26);
            word[1] = (char)('a' + i / 26);
            word[len] = 0;
            const char *p = word;
            h[n++] = tide_hash_str(&p, NULL);
        }
    qsort(h, n, sizeof *h, cmp_u64);
    for (size_t i = 1; i < n; i++)
        ck_assert_msg(h[i] != h[i - 1], "two words of at most 2 letters share a hash");
    free(h);
}
END_TEST

int main(void)
{
    TCase *tc = tcase_create("containers");
    tcase_set_timeout(tc, 60); /* 100,000-record sorts against qsort, under sanitizers */
    tcase_add_test(tc, test_vec);
    tcase_add_test(tc, test_table_fixed);
    tcase_add_loop_test(tc, test_table_strings, 0, 2);
    tcase_add_test(tc, test_consolidate);
    tcase_add_test(tc, test_hash_str);
    tcase_add_test(tc, test_same_str);
    tcase_add_loop_test(tc, test_table_strings_many, 0, 2);
    tcase_add_test(tc, test_table_large);
    tcase_add_test(tc, test_table_get_n);
    return run_suite("containers", tc, CK_FORK) ? EXIT_FAILURE : EXIT_SUCCESS;
}
