/*
 * Internal: op-table check cases shared by ops of the same signature.
 * Included by the op families (a static copy per file, so descriptors can
 * take their size with ADJ_CASES).  An op with cases of its own lists them
 * in its file.
 */
#ifndef ADJ_OPS_CASES_H
#define ADJ_OPS_CASES_H

#include "ops/op.h"

#if defined(__GNUC__)
#define ADJ_CASES_UNUSED_ __attribute__((unused))
#else
#define ADJ_CASES_UNUSED_
#endif

/* One tensor of any shape: 0-D, 1-D, 2-D, 4-D with a size-1 dimension. */
ADJ_CASES_UNUSED_ static const adj_op_case adj_cases_unary[] = {
    {1, {0}, {{0}}, NULL, NULL},
    {1, {1}, {{7}}, NULL, NULL},
    {1, {2}, {{3, 4}}, NULL, NULL},
    {1, {4}, {{2, 1, 3, 2}}, NULL, NULL},
};

/* Two tensors: same shape, or broadcast (NumPy rules, either operand). */
ADJ_CASES_UNUSED_ static const adj_op_case adj_cases_binary[] = {
    {2, {0, 0}, {{0}, {0}}, NULL, NULL},
    {2, {2, 2}, {{3, 4}, {3, 4}}, NULL, NULL},
    {2, {2, 1}, {{3, 4}, {4}}, NULL, NULL},
    {2, {2, 2}, {{2, 3}, {1, 3}}, NULL, NULL},
    {2, {2, 0}, {{3, 4}, {0}}, NULL, NULL},
    {2, {0, 2}, {{0}, {3, 4}}, NULL, NULL},
    {2, {3, 2}, {{2, 2, 3}, {2, 3}}, NULL, NULL},
    /* NumPy broadcasting on either side and in the middle */
    {2, {2, 2}, {{2, 1}, {1, 3}}, NULL, NULL},
    {2, {1, 3}, {{3}, {2, 1, 3}}, NULL, NULL},
    {2, {2, 0}, {{1, 1}, {0}}, NULL, NULL},
    {2, {3, 2}, {{4, 1, 3}, {2, 1}}, NULL, NULL},
    {2, {4, 4}, {{2, 1, 3, 1}, {1, 4, 1, 2}}, NULL, NULL},
    /* zero-size dimensions */
    {2, {2, 2}, {{0, 3}, {1, 3}}, NULL, NULL},
    {2, {3, 1}, {{2, 0, 3}, {3}}, NULL, NULL},
};

/* Two tensors of one shape (losses). */
ADJ_CASES_UNUSED_ static const adj_op_case adj_cases_pair[] = {
    {2, {0, 0}, {{0}, {0}}, NULL, NULL},
    {2, {1, 1}, {{5}, {5}}, NULL, NULL},
    {2, {2, 2}, {{3, 4}, {3, 4}}, NULL, NULL},
};

#endif
