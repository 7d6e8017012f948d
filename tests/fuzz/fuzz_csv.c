/*
 * libFuzzer target: the CSV reader.  The first byte picks the label
 * column (last, by index, by name); the rest is the file.  An accepted
 * table must be self-consistent: finite features (no NaN, no infinity), labels in
 * [0, classes).
 */
#include <adjoint.h>

#include <math.h>

#include "fuzz_util.h"

static fuzz_file in_file;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const labels[4] = {NULL, "0", "label", "1"};
    if (size < 1)
        return 0;
    const char *label = labels[data[0] & 3];
    const char *path = fuzz_write(fuzz_scratch(&in_file, "csv"), data + 1, size - 1);
    adj_dataset *d = NULL;
    adj_error err;
    adj_status s = adj_csv_read(path, label, &d, &err);
    if (s != ADJ_OK) {
        if (d || err.status != s || !err.message[0])
            abort();
        return 0;
    }
    if (!d || d->rows < 1 || d->cols < 1 || d->classes < 1)
        abort();
    for (size_t i = 0; i < d->rows; i++)
        if (d->y[i] < 0 || d->y[i] >= d->classes)
            abort();
    for (size_t i = 0; i < d->rows * d->cols; i++)
        if (!isfinite(d->x[i]))
            abort();
    adj_dataset_free(d);
    return 0;
}
