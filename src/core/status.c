/* Status and dtype names, the default allocator, shape helpers. */
#include "core/tape.h"

#include <stdlib.h>

const char *adj_status_string(adj_status s)
{
    static const char *const names[ADJ_STATUS_COUNT] = {
        [ADJ_OK] = "ok",
        [ADJ_EINVAL] = "invalid argument",
        [ADJ_ESHAPE] = "shape mismatch",
        [ADJ_EDTYPE] = "dtype mismatch",
        [ADJ_ETAPE] = "var from another tape or before a reset",
        [ADJ_ENOMEM] = "out of memory",
        [ADJ_EIO] = "input/output error",
        [ADJ_EFORMAT] = "bad file format",
        [ADJ_ENUMERIC] = "NaN or Inf",
        [ADJ_ESTATE] = "invalid state",
    };
    if ((unsigned)s >= ADJ_STATUS_COUNT)
        return "unknown status";
    return names[s];
}

const char *adj_dtype_name(adj_dtype d)
{
    return d == ADJ_F64 ? "f64" : d == ADJ_F32 ? "f32" : d == ADJ_I32 ? "i32" : "?";
}

const char *adj_version(void) { return ADJ_VERSION; }

static void *std_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void std_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)size;
    free(ptr);
}

const adj_allocator adj_default_allocator = {std_alloc, std_free, NULL};

void adj_fmt_shape(char *buf, size_t size, int ndim, const int64_t *shape)
{
    size_t n = 0;
    if (size == 0)
        return;
    buf[0] = '\0';
    n += (size_t)snprintf(buf + n, size - n, "(");
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (n < size)
        snprintf(buf + n, size - n, ")");
}

void adj_fmt_num(char *buf, size_t size, double v, int digits)
{
    if (v == 0)
        v = 0; /* -0 -> 0 */
    snprintf(buf, size, "%.*g", digits, v);
}

