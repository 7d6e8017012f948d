/*
 * Classification metrics over predicted and true labels.
 */
#include "nn/nn_internal.h"

#include <string.h>

adj_status adj_argmax_rows(const adj_var *logits_h, int32_t *out)
{
    const adj_var *logits = adj_h_get(logits_h, "adj_argmax_rows");
    if (logits_h && !logits)
        return ADJ_ETAPE;
    if (!logits || !out || logits->ndim < 1 || logits->ndim > 2 ||
        adj_cold(logits)->shape[logits->ndim - 1] < 1)
        return ADJ_EINVAL; /* a row without classes has no argmax */
    size_t rows = logits->ndim == 2 ? (size_t)adj_cold(logits)->shape[0] : 1;
    size_t cols = (size_t)adj_cold(logits)->shape[logits->ndim - 1];
    const void *val = adj_data(logits); /* row-major, also for a view */
    if (!val)
        return ADJ_ENOMEM;
    for (size_t r = 0; r < rows; r++) {
        size_t best = 0;
        if (logits->dtype == ADJ_F64) {
            const double *z = (const double *)val + r * cols;
            for (size_t j = 1; j < cols; j++)
                if (z[j] > z[best])
                    best = j;
        } else {
            const float *z = (const float *)val + r * cols;
            for (size_t j = 1; j < cols; j++)
                if (z[j] > z[best])
                    best = j;
        }
        out[r] = (int32_t)best;
    }
    return ADJ_OK;
}

double adj_accuracy(const int32_t *pred, const int32_t *labels, size_t n)
{
    if (!pred || !labels || n == 0)
        return 0.0;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += pred[i] == labels[i];
    return (double)ok / (double)n;
}

adj_status adj_confusion_matrix(const int32_t *pred, const int32_t *labels, size_t n, int classes,
                                int64_t *matrix)
{
    if (!matrix || classes < 1 || (n && (!pred || !labels)))
        return ADJ_EINVAL;
    if ((size_t)classes > SIZE_MAX / sizeof *matrix / (size_t)classes)
        return ADJ_EINVAL; /* classes^2 counts do not fit in memory */
    memset(matrix, 0, (size_t)classes * (size_t)classes * sizeof *matrix);
    for (size_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= classes || pred[i] < 0 || pred[i] >= classes)
            return ADJ_EINVAL;
        matrix[(size_t)labels[i] * (size_t)classes + (size_t)pred[i]]++;
    }
    return ADJ_OK;
}
