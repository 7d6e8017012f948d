/*
 * What the kernels run on: the elementwise level of ops/dispatch.h, BLIS's
 * version and sub-configuration, the thread count with its origin
 * (adj_runtime_info); and the choice of BLIS's kernels.
 *
 * BLIS picks the sub-configuration whose kernels it runs once, when it
 * initialises, from the CPU or from the environment variable
 * BLIS_ARCH_TYPE (BLIS 0.9 has no call to set it).  Its detection misses
 * CPUs with AVX-512 that it does not know: on AMD family 0x1A it falls
 * back to its portable "generic" kernels, and on Intel VMs that hide the
 * count of FMA units it takes the AVX2 "haswell" ones.  So when the
 * library is loaded, before anything can initialise BLIS, it sets
 * BLIS_ARCH_TYPE to the AVX-512 sub-configuration "skx" if the CPU and the
 * OS support AVX-512 (F, DQ, CD, BW, VL) and the BLIS build has it — never
 * when BLIS_ARCH_TYPE is already set, nor when ADJ_BLIS_ARCH=blis asks for
 * BLIS's own choice.  docs/performance.md gives the measurements.
 */
#include "adjoint/core.h"
#include "core/pool.h"
#include "ops/dispatch.h"

#include <blis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How BLIS's sub-configuration was chosen (set once, at load). */
static const char *blis_from = "BLIS's own detection";

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && defined(BLIS_CONFIG_SKX)
__attribute__((constructor)) static void choose_blis_kernels(void)
{
    if (getenv("BLIS_ARCH_TYPE")) {
        blis_from = "BLIS_ARCH_TYPE";
        return;
    }
    const char *mine = getenv("ADJ_BLIS_ARCH");
    if (mine && strcmp(mine, "blis") == 0)
        return;
    __builtin_cpu_init();
    /* libgcc's and compiler-rt's checks include the OS's XGETBV state */
    if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
          __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
          __builtin_cpu_supports("avx512vl")))
        return;
    char id[16];
    snprintf(id, sizeof id, "%d", (int)BLIS_ARCH_SKX);
    if (setenv("BLIS_ARCH_TYPE", id, 0) == 0)
        blis_from = "adjoint (an AVX-512 CPU: ADJ_BLIS_ARCH=blis keeps BLIS's own choice)";
}
#endif

static const char *kernels_name(void)
{
#if ADJ_VM_DISPATCH
    switch (adj_vm_level()) {
    case ADJ_VM_AVX512:
        return "avx512";
    case ADJ_VM_AVX2:
        return "avx2";
    default:
        return "sse2";
    }
#else
    return "portable";
#endif
}

adj_status adj_runtime_info(adj_runtime *out)
{
    if (!out)
        return ADJ_EINVAL;
    out->version = adj_version();
    out->kernels = kernels_name();
    bli_init(); /* the sub-configuration is chosen there (once) */
    out->blis_version = bli_info_get_version_str();
    out->blis_arch = bli_arch_string(bli_arch_query_id());
    out->blis_arch_from = blis_from;
    out->threads = adj_get_threads();
    out->threads_from = adj_pool_threads_origin();
    return ADJ_OK;
}
