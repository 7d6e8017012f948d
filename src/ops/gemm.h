/*
 * Matrix-product kernels on plain views: a pointer, the dtype (ADJ_F32 or
 * ADJ_F64) and a (row, column) stride pair per matrix, in elements.  No
 * tape nodes: tests and every op that multiplies matrices (matmul,
 * linear, the batched product) call these.
 */
#ifndef ADJ_OPS_GEMM_H
#define ADJ_OPS_GEMM_H

#include "core/pool.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * Products of at most this many multiply-adds (m n k) skip BLIS: its fixed
 * cost per call (object set-up, the threading decision, packing buffers)
 * is about a microsecond, more than the arithmetic of a tiny layer (a 2-8-1
 * network's products are 32 to 64 multiply-adds).  0 sends every product
 * to BLIS.  tests/test_kernels.c checks both paths against each other.
 */
#define ADJ_SMALL_GEMM_MACS 4096u

/* Products of at least this many multiply-adds are split over the pool's
 * threads (adj_gemm), and the two products of a backward may run one per
 * thread (adj_gemm_pair). */
#define ADJ_PAR_GEMM_MACS ((size_t)1 << 17)

/*
 * C (m,n) = op(A) op(B) + beta C.  op(A)[i][p] is A[i rsa + p csa], or
 * A[p rsa + i csa] when ta; op(B) likewise with tb; C[i][j] is
 * C[i rsc + j csc].  Strides are at least 1 (BLIS refuses others).
 * beta = 0 never reads C (it may hold garbage).  Small products (see
 * ADJ_SMALL_GEMM_MACS) run a plain loop; large ones are split over the
 * pool's threads by rows or columns of C, one single-threaded BLIS call
 * per block; otherwise one BLIS call on the calling thread.  The result
 * depends only on the shape, the strides' pattern and the thread count.
 */
void adj_gemm(int dtype, bool ta, bool tb, size_t m, size_t n, size_t k, const void *A, size_t rsa,
              size_t csa, const void *B, size_t rsb, size_t csb, double beta, void *C, size_t rsc,
              size_t csc);

/*
 * C = 1 init^T + op(A) op(B) for a row-major C (row stride rsc, column
 * stride 1): every row of C is first set to the n elements of init (zeros
 * when init is NULL), then the product is added as by adj_gemm with beta
 * = 1, with the same bits.  Each thread sets the block of C that it then
 * adds to, so that block stays in its core's cache (linear's bias).
 * part: NULL, or adj_gemm_ksplit_bytes(dtype, m, n, k) bytes of scratch
 * (when that is not 0); then the product is split over k instead, with
 * other bits than adj_gemm's (the same for a given thread count).
 */
void adj_gemm_rows(int dtype, bool ta, bool tb, size_t m, size_t n, size_t k, const void *A,
                   size_t rsa, size_t csa, const void *B, size_t rsb, size_t csb, const void *init,
                   void *C, size_t rsc, void *part);

/*
 * C (m,n, row stride rsc) = op(A) op(B), as adj_gemm with beta = 0 when
 * part is NULL; with part (adj_gemm_ksplit_bytes of scratch, not 0) split
 * over k as adj_gemm_rows does, with other bits than adj_gemm's (the same
 * for a given thread count).  matmul's and a bias-free linear's product.
 */
void adj_gemm_split(int dtype, bool ta, bool tb, size_t m, size_t n, size_t k, const void *A,
                    size_t rsa, size_t csa, const void *B, size_t rsb, size_t csb, void *C,
                    size_t rsc, void *part);

/*
 * The scratch adj_gemm_rows wants to split an (m,n,k) product over k at
 * the thread count in effect, in bytes; 0 when it splits over rows as
 * adj_gemm does.  A split by rows has every thread pack the whole of
 * op(B); where k is at least twice m and n (a first layer: 256 x 256 x
 * 784) each thread multiplies its own share of k instead, packing a share
 * of op(A) and op(B), into a partial C of its own (all but the first
 * thread's in the scratch), and the partials are added in a fixed order.
 * From 128 rows of C only (below, adj_gemm's split: by rows from 128 rows
 * or where m >= n, else by columns).
 */
size_t adj_gemm_ksplit_bytes(int dtype, size_t m, size_t n, size_t k);

/* Whether adj_gemm splits an (m,n) C over the threads by rows (else by
 * columns), when it splits it. */
bool adj_gemm_splits_by_rows(size_t m, size_t n);

/* adj_gemm on the calling thread only (a plain loop or one BLIS call),
 * for callers that spread independent products over the pool themselves. */
void adj_gemm_1t(int dtype, bool ta, bool tb, size_t m, size_t n, size_t k, const void *A,
                 size_t rsa, size_t csa, const void *B, size_t rsb, size_t csb, double beta,
                 void *C, size_t rsc, size_t csc);

/* Whether an (m,n,k) product takes adj_gemm's plain loop. */
bool adj_gemm_is_small(size_t m, size_t n, size_t k);

/*
 * The two products of a backward (tasks 0 and 1 of `task`, adding into
 * adjoints g0 and g1 of n0 and n1 elements of es bytes, macs multiply-adds
 * each) are independent.  With two threads, when both are wanted (g0 and
 * g1 not NULL) and large and their adjoints do not overlap, each runs
 * whole on its own thread; otherwise task(ctx, 0, 2) on the caller.
 */
void adj_gemm_pair(adj_range_fn task, void *ctx, const void *g0, size_t n0, const void *g1,
                   size_t n1, size_t macs, size_t es);

/* sum_p a[p sa] b[p sb] in four interleaved partial sums (a rounding
 * order like BLIS's own). */
double adj_dot4(const double *a, size_t sa, const double *b, size_t sb, size_t k);

/* db (out) += the column sums of dz (m, out; rows ld elements apart) for
 * float adjoints: each in double, rows in order (linear's bias adjoint;
 * ops/linalg.c). */
void adj_linear_col_sums_f32(const float *dz, size_t m, size_t out, size_t ld, float *db);

#endif
