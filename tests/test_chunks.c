/*
 * Where a tape's chunks of nodes come from: past the first few, from
 * regions aligned to huge pages; each on its own with ADJ_HUGE_PAGES=0;
 * from posix_memalign when the system refuses mappings.  Every way gives
 * the same values and adjoints, bit for bit, the same accounting and the
 * same out-of-memory failure, and a freed tape gives back its regions.
 */
#define _DEFAULT_SOURCE /* msync */
#include <adjoint.h>

#include "check_util.h"
#include "core/tape.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FIRST_SINGLE 16u              /* chunks mapped on their own before regions */
#define REGION_BYTES ((size_t)6 << 20) /* 32 chunks 192 KiB apart */

enum way { REGIONS, SINGLE, REFUSED };

static adj_tape *tape_made(enum way w)
{
    if (w == SINGLE)
        setenv("ADJ_HUGE_PAGES", "0", 1);
    else
        unsetenv("ADJ_HUGE_PAGES");
    adj_test_refuse_maps = w == REFUSED;
    adj_tape *t = adj_tape_new();
    unsetenv("ADJ_HUGE_PAGES");
    ck_assert_ptr_nonnull(t);
    return t;
}

typedef struct chain_out {
    double y, gw, gb, gx, gmid;
    size_t nodes;
    adj_tape_stats st;
} chain_out;

/* x <- tanh(w x + b) over `steps` steps, then a sweep from x; the adjoint
 * of a node in the middle too. */
static chain_out chain(adj_tape *t, long steps, double w0)
{
    adj_tape_reset(t);
    adj_var *w = adj_scalar(t, w0), *b = adj_scalar(t, 0.125), *x = adj_scalar(t, 0.5);
    adj_var *h = x, *mid = x;
    for (long i = 0; i < steps; i++) {
        h = adj_tanh(adj_add(adj_mul(w, h), b));
        if (i == steps / 2)
            mid = h;
    }
    chain_out o = {0};
    o.nodes = adj_tape_size(t);
    if (adj_tape_status(t) == ADJ_OK) {
        ck_assert_int_eq(adj_backward(h), ADJ_OK);
        o.y = adj_item(h);
        o.gw = adj_grad_item(w);
        o.gb = adj_grad_item(b);
        o.gx = adj_grad_item(x);
        o.gmid = adj_grad_item(mid);
    }
    adj_tape_get_stats(t, &o.st);
    return o;
}

static void same_out(const chain_out *a, const chain_out *b)
{
    ck_assert_uint_eq(a->nodes, b->nodes);
    ck_assert(memcmp(&a->y, &b->y, sizeof a->y) == 0);
    ck_assert(memcmp(&a->gw, &b->gw, sizeof a->gw) == 0);
    ck_assert(memcmp(&a->gb, &b->gb, sizeof a->gb) == 0);
    ck_assert(memcmp(&a->gx, &b->gx, sizeof a->gx) == 0);
    ck_assert(memcmp(&a->gmid, &b->gmid, sizeof a->gmid) == 0);
    ck_assert_uint_eq(a->st.bytes_reserved, b->st.bytes_reserved);
    ck_assert_uint_eq(a->st.bytes_used, b->st.bytes_used);
    ck_assert_uint_eq(a->st.allocations, b->st.allocations);
}

/* What the raw pointer of each chunk says it is (tape.c's RAW_*). */
static void chunks_are(const adj_tape *t, enum way w)
{
    for (size_t i = 0; i < t->nchunks; i++) {
        uintptr_t tag = (uintptr_t)t->chunk_mem[i] & (ADJ_CHUNK_HOT - 1);
        uintptr_t want = w == REFUSED ? 16 : 0;
#ifdef MADV_HUGEPAGE
        if (w == REGIONS && i >= FIRST_SINGLE)
            want = 32;
        /* a region starts on a huge page, and its chunks follow in order */
        if (want == 32 && (i - FIRST_SINGLE) % 32 == 0)
            ck_assert_uint_eq((uintptr_t)t->chunks[i] % ((uintptr_t)2 << 20), 0);
        else if (want == 32)
            ck_assert_uint_eq((uintptr_t)t->chunks[i] - (uintptr_t)t->chunks[i - 1],
                              (uintptr_t)192 << 10);
#endif
        ck_assert_msg(tag == want, "chunk %zu: raw tag %lu, want %lu", i, (unsigned long)tag,
                      (unsigned long)want);
    }
}

static const int thread_counts[2] = {1, 2};

/* 12000 steps: 36003 nodes, 36 chunks (20 in one region); 70000 steps:
 * 206 chunks, 6 regions and part of a seventh; then the short tape again
 * over the long one's chunks. */
START_TEST(regions_match_single_chunks)
{
    adj_set_threads(thread_counts[_i]);
    adj_tape *r = tape_made(REGIONS), *s = tape_made(SINGLE);
    static const long steps[3] = {12000, 70000, 12000};
    for (int k = 0; k < 3; k++) {
        chain_out a = chain(r, steps[k], 1.0), b = chain(s, steps[k], 1.0);
        same_out(&a, &b);
        ck_assert(a.gw != 0.0 && a.gmid != 0.0);
        chunks_are(r, REGIONS);
        chunks_are(s, SINGLE);
    }
    adj_tape_free(s);
    adj_tape_free(r);
    adj_set_threads(0);
}
END_TEST

START_TEST(refused_maps_fall_back)
{
    adj_set_threads(thread_counts[_i]);
    adj_tape *f = tape_made(REFUSED), *s = tape_made(SINGLE);
    for (int k = 0; k < 2; k++) {
        adj_test_refuse_maps = true;
        chain_out a = chain(f, 12000 + 30000 * k, 0.75);
        adj_test_refuse_maps = false;
        chain_out b = chain(s, 12000 + 30000 * k, 0.75);
        same_out(&a, &b);
        chunks_are(f, REFUSED);
    }
    adj_tape_free(f);
    adj_tape_free(s);
    adj_set_threads(0);
}
END_TEST

/* A tape with a limit maps every chunk on its own, regions or not, so the
 * limit caps its memory: below the limit it records past its first 16
 * chunks with the same results as a tape without regions, and at the limit
 * the same node fails with the same message. */
START_TEST(limit_same_failure)
{
    adj_tape *r = tape_made(REGIONS), *s = tape_made(SINGLE);
    adj_tape_set_limit(r, (size_t)8 << 20);
    adj_tape_set_limit(s, (size_t)8 << 20);
    chain_out a = chain(r, 12000, 1.0), b = chain(s, 12000, 1.0);
    ck_assert_int_eq(adj_tape_status(r), ADJ_OK);
    same_out(&a, &b);
    ck_assert(a.gw != 0.0 && a.gmid != 0.0);
    ck_assert_uint_gt(r->nchunks, FIRST_SINGLE);
    chunks_are(r, SINGLE);
    adj_tape_set_limit(r, (size_t)5 << 20);
    adj_tape_set_limit(s, (size_t)5 << 20);
    a = chain(r, 30000, 1.0);
    b = chain(s, 30000, 1.0);
    ck_assert_int_eq(adj_tape_status(r), ADJ_ENOMEM);
    ck_assert_int_eq(adj_tape_status(s), ADJ_ENOMEM);
    ck_assert_str_eq(adj_tape_message(r), adj_tape_message(s));
    ck_assert_uint_gt(r->nchunks, FIRST_SINGLE);
    ck_assert_uint_eq(a.nodes, b.nodes);
    ck_assert_uint_eq(a.st.bytes_reserved, b.st.bytes_reserved);
    chunks_are(r, SINGLE);
    adj_tape_free(r);
    adj_tape_free(s);
}
END_TEST

/* After adj_tape_free no page of the tape's first region is mapped: the
 * chunks it handed out and the rest of it. */
START_TEST(regions_given_back)
{
#if defined(MADV_HUGEPAGE) && defined(__linux__)
    adj_tape *r = tape_made(REGIONS);
    chain_out a = chain(r, 6000, 1.0);
    ck_assert_uint_eq(r->nchunks, 18); /* two chunks of one region */
    ck_assert(a.gw != 0.0);
    char *region = (char *)r->chunks[FIRST_SINGLE];
    const long page = sysconf(_SC_PAGESIZE);
    ck_assert_int_eq(msync(region, (size_t)page, MS_ASYNC), 0); /* mapped while it lives */
    adj_tape_free(r);
    for (size_t off = 0; off < REGION_BYTES; off += (size_t)page) {
        errno = 0;
        ck_assert_msg(msync(region + off, (size_t)page, MS_ASYNC) == -1 && errno == ENOMEM,
                      "page at offset %zu of the region is still mapped", off);
    }
#endif
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("chunks");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, regions_match_single_chunks, 0, 2);
    tcase_add_loop_test(tc, refused_maps_fall_back, 0, 2);
    tcase_add_test(tc, limit_same_failure);
    tcase_add_test(tc, regions_given_back);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(make_suite)
