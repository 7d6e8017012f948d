/*
 * Internal: per-CPU variants of the elementwise kernels.
 *
 * On x86-64 with GCC or Clang, every elementwise range kernel is compiled
 * three times from the same source: for baseline x86-64 (SSE2), for AVX2
 * and for AVX-512 (F, DQ, VL, BW).  The first call looks at the CPU
 * (__builtin_cpu_supports) and the widest level it has is used from then
 * on.  The library is compiled with -ffp-contract=off and the kernels use
 * no FMA or other instruction whose result differs between the levels, so
 * every level gives bit-identical results: only the vector width changes.
 * tests/test_vmath.c checks that over every unary op.
 *
 * Elsewhere (other architectures, other compilers, or when built with
 * -DADJ_NO_DISPATCH) there is one level, the plain code.
 */
#ifndef ADJ_OPS_DISPATCH_H
#define ADJ_OPS_DISPATCH_H

#include <stdatomic.h>

enum { ADJ_VM_BASE = 0, ADJ_VM_AVX2 = 1, ADJ_VM_AVX512 = 2 };

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(ADJ_NO_DISPATCH)
#define ADJ_VM_DISPATCH 1
#define ADJ_VM_TGT_AVX2 __attribute__((target("avx2")))
#if defined(__clang__)
#define ADJ_VM_TGT_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw")))
#else
#define ADJ_VM_TGT_AVX512                                                                  \
    __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,prefer-vector-width=512")))
#endif
#else
#define ADJ_VM_DISPATCH 0
#endif

/* The level in use; -1 until the first adj_vm_level(). */
extern atomic_int adj_vm_cur_level;
int adj_vm_detect_level(void);

/* The level the kernels use (the CPU's widest, unless forced). */
static inline int adj_vm_level(void)
{
    int l = atomic_load_explicit(&adj_vm_cur_level, memory_order_relaxed);
    return l >= 0 ? l : adj_vm_detect_level();
}

/* The widest level this CPU (and build) supports. */
int adj_vm_max_level(void);

/*
 * For tests: make the kernels use `level` (clamped to adj_vm_max_level();
 * a negative level goes back to the CPU's widest).  Returns the level now
 * in use.  Process-wide: not to be called while kernels run.
 */
int adj_vm_force_level(int level);

/*
 * Call f##_base, f##_avx2 or f##_avx512 (functions of (void *, size_t,
 * size_t)) by the level in use.  Ranges shorter than ADJ_VM_WIDE_MIN
 * elements take the AVX2 variant instead of the AVX-512 one: on short
 * arrays 512-bit code costs more than it saves (a tanh over 4 floats:
 * 30 ns against 20; the 2-8-1 network step of bench_tiny, whose arrays
 * have 4 to 32 elements: 0.53 us against 0.50).  Every level gives the
 * same results, so this only changes the speed.
 */
#define ADJ_VM_WIDE_MIN 1024

#if ADJ_VM_DISPATCH
#define ADJ_VM_CALL(f, ctx, lo, hi)                                                         \
    do {                                                                                   \
        const int l_ = adj_vm_level();                                                     \
        if (l_ == ADJ_VM_AVX512 && (hi) - (lo) >= ADJ_VM_WIDE_MIN)                         \
            f##_avx512(ctx, lo, hi);                                                       \
        else if (l_ >= ADJ_VM_AVX2)                                                        \
            f##_avx2(ctx, lo, hi);                                                         \
        else                                                                               \
            f##_base(ctx, lo, hi);                                                         \
    } while (0)
#else
#define ADJ_VM_CALL(f, ctx, lo, hi) f##_base(ctx, lo, hi)
#endif

/* The dispatching forward, backward and tangent range kernels of an
 * elementwise op nm, over its per-level kernels nm_{fwd,bwd,jvp}_range_<level>. */
#define ADJ_VM_RANGES(nm)                                                      \
    static void nm##_fwd_range(void *ctx_, size_t lo_, size_t hi_)             \
    {                                                                          \
        ADJ_VM_CALL(nm##_fwd_range, ctx_, lo_, hi_);                           \
    }                                                                          \
    static void nm##_bwd_range(void *ctx_, size_t lo_, size_t hi_)             \
    {                                                                          \
        ADJ_VM_CALL(nm##_bwd_range, ctx_, lo_, hi_);                           \
    }                                                                          \
    static void nm##_jvp_range(void *ctx_, size_t lo_, size_t hi_)             \
    {                                                                          \
        ADJ_VM_CALL(nm##_jvp_range, ctx_, lo_, hi_);                           \
    }

#endif
