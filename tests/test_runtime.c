/*
 * adj_runtime_info: what the library runs on.  BLIS's kernels are the
 * AVX-512 "skx" ones on a CPU with AVX-512 unless the environment asked
 * otherwise (the library chooses them when it is loaded, before main);
 * the thread count says where it comes from.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <stdlib.h>
#include <string.h>

static int cpu_has_avx512(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

START_TEST(reports_the_runtime)
{
    ck_assert_int_eq(adj_runtime_info(NULL), ADJ_EINVAL);
    adj_runtime r;
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(adj_runtime_info(&r), ADJ_OK);
    ck_assert_str_eq(r.version, adj_version());
    ck_assert_ptr_nonnull(r.kernels);
    ck_assert_ptr_nonnull(r.blis_version);
    ck_assert_ptr_nonnull(r.blis_arch);
    ck_assert_ptr_nonnull(r.blis_arch_from);
    ck_assert_int_eq(r.threads, adj_get_threads());
    if (cpu_has_avx512())
        ck_assert_str_eq(r.kernels, "avx512");
    /* who chose BLIS's kernels, and what they are */
    const char *env = getenv("BLIS_ARCH_TYPE"), *mine = getenv("ADJ_BLIS_ARCH");
    if (strcmp(r.blis_arch_from, "BLIS_ARCH_TYPE") == 0) {
        ck_assert_ptr_nonnull(env);
    } else if (strncmp(r.blis_arch_from, "adjoint", 7) == 0) {
        ck_assert(cpu_has_avx512());
        ck_assert_str_eq(r.blis_arch, "skx");
        ck_assert(!mine || strcmp(mine, "blis") != 0);
    } else {
        ck_assert_str_eq(r.blis_arch_from, "BLIS's own detection");
        /* only an opt-out or a CPU without AVX-512 leaves the choice to BLIS
         * (or a BLIS build without the skx sub-configuration) */
        ck_assert(!cpu_has_avx512() || (mine && strcmp(mine, "blis") == 0) ||
                  strcmp(r.blis_arch, "skx") != 0);
    }
}
END_TEST

START_TEST(says_where_the_thread_count_comes_from)
{
    adj_runtime r;
    adj_set_threads(1);
    ck_assert_int_eq(adj_runtime_info(&r), ADJ_OK);
    ck_assert_int_eq(r.threads, 1);
    ck_assert_str_eq(r.threads_from, "adj_set_threads");
    setenv("ADJ_NUM_THREADS", "2", 1);
    adj_set_threads(0); /* back to the default */
    ck_assert_int_eq(adj_runtime_info(&r), ADJ_OK);
    ck_assert_int_eq(r.threads, 2);
    ck_assert_str_eq(r.threads_from, "ADJ_NUM_THREADS");
    unsetenv("ADJ_NUM_THREADS");
    setenv("OMP_NUM_THREADS", "1", 1);
    adj_set_threads(0);
    ck_assert_int_eq(adj_runtime_info(&r), ADJ_OK);
    ck_assert_int_eq(r.threads, 1);
    ck_assert_str_eq(r.threads_from, "OMP_NUM_THREADS");
    unsetenv("OMP_NUM_THREADS");
    adj_set_threads(0);
    ck_assert_int_eq(adj_runtime_info(&r), ADJ_OK);
    ck_assert_str_eq(r.threads_from, "the CPUs this process may run on");
}
END_TEST

static Suite *runtime_suite(void)
{
    Suite *s = suite_create("runtime");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, reports_the_runtime);
    tcase_add_test(tc, says_where_the_thread_count_comes_from);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(runtime_suite)
