/*
 * The choice of kernel variant (see dispatch.h).
 */
#include "ops/dispatch.h"

atomic_int adj_vm_cur_level = -1;

int adj_vm_max_level(void)
{
#if ADJ_VM_DISPATCH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
        return ADJ_VM_AVX512;
    if (__builtin_cpu_supports("avx2"))
        return ADJ_VM_AVX2;
#endif
    return ADJ_VM_BASE;
}

int adj_vm_detect_level(void)
{
    int l = adj_vm_max_level();
    atomic_store_explicit(&adj_vm_cur_level, l, memory_order_relaxed);
    return l;
}

#if ADJ_VM_DISPATCH
/* Look at the CPU when the library is loaded, before any thread of the
 * program can run a kernel (the lazy path in adj_vm_level stays for
 * calls from other libraries' constructors). */
__attribute__((constructor)) static void adj_vm_init(void)
{
    if (atomic_load_explicit(&adj_vm_cur_level, memory_order_relaxed) < 0)
        adj_vm_detect_level();
}
#endif

int adj_vm_force_level(int level)
{
    int max = adj_vm_max_level();
    int l = level < 0 || level > max ? max : level;
    atomic_store_explicit(&adj_vm_cur_level, l, memory_order_relaxed);
    return l;
}
