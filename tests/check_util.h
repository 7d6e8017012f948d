/*
 * What the Check suites share: their main(), and an allocator that counts
 * calls and live bytes and can fail the n-th call (and, sticky, every one
 * after it) for fault-injection tests.
 */
#ifndef ADJ_TESTS_CHECK_UTIL_H
#define ADJ_TESTS_CHECK_UTIL_H

#include <adjoint.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* main(): run the suite make_suite() returns; exit 1 if any test failed. */
#define ADJ_CHECK_MAIN(make_suite)                                             \
    int main(void)                                                             \
    {                                                                          \
        SRunner *sr_ = srunner_create(make_suite());                           \
        srunner_run_all(sr_, CK_NORMAL);                                       \
        int failed_ = srunner_ntests_failed(sr_);                              \
        srunner_free(sr_);                                                     \
        return failed_ ? EXIT_FAILURE : EXIT_SUCCESS;                          \
    }

typedef struct test_alloc {
    long countdown;     /* fail when it reaches 0; -1: never */
    int sticky;         /* after one failure, fail every later call */
    int failed;         /* a call has failed */
    size_t max_request; /* refuse larger requests (0: no limit) */
    size_t calls;       /* successful allocations */
    size_t frees;
    size_t live;        /* bytes allocated and not yet freed */
} test_alloc;

static inline void *test_alloc_alloc(void *ctx, size_t n)
{
    test_alloc *a = ctx;
    long c = a->countdown--;
    if (c == 0 || (a->sticky && a->failed) || (a->max_request && n > a->max_request)) {
        a->failed = 1;
        return NULL;
    }
    void *p = malloc(n);
    if (p) {
        a->calls++;
        a->live += n;
    }
    return p;
}

static inline void test_alloc_free(void *ctx, void *p, size_t n)
{
    test_alloc *a = ctx;
    if (p) {
        a->frees++;
        a->live -= n;
    }
    free(p);
}

/* An allocator over *a, which starts counting afresh and never failing. */
static inline adj_allocator test_alloc_init(test_alloc *a)
{
    *a = (test_alloc){.countdown = -1};
    return (adj_allocator){test_alloc_alloc, test_alloc_free, a};
}

/* Fail the n-th call from now (0 = the next one); sticky: and all later. */
static inline void test_alloc_arm(test_alloc *a, long n, int sticky)
{
    a->countdown = n;
    a->sticky = sticky;
    a->failed = 0;
    a->calls = 0;
    a->frees = 0;
    a->live = 0;
}

/* The plain-loop reference product: C (m,n) += A (m,k) B (k,n), with
 * element strides: A[i*ar + p*ac]. */
static inline void ref_mm(size_t m, size_t n, size_t k, const double *A, size_t ar, size_t ac,
                          const double *B, size_t br, size_t bc, double *C)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t p = 0; p < k; p++)
                s += A[i * ar + p * ac] * B[p * br + j * bc];
            C[i * n + j] += s;
        }
}

/* Two tapes given the same call by two paths (a fast one and the general
 * one): the same status, the same message, and a result from both or
 * from neither. */
static inline void check_same_failure(adj_tape *a, adj_tape *b, adj_var *ra, adj_var *rb, const char *what)
{
    ck_assert_msg(adj_tape_status(a) == adj_tape_status(b), "%s: status %d vs %d", what,
                  adj_tape_status(a), adj_tape_status(b));
    ck_assert_msg(strcmp(adj_tape_message(a), adj_tape_message(b)) == 0, "%s: '%s' vs '%s'",
                  what, adj_tape_message(a), adj_tape_message(b));
    ck_assert_msg((ra == NULL) == (rb == NULL), "%s: one result NULL", what);
}

#endif
