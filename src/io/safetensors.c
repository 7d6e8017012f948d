/*
 * Reading safetensors files (include/adjoint/safetensors.h): the length
 * and the header are checked against the file's size before the data is
 * allocated, the JSON is parsed by cJSON, and every entry is checked
 * before any tensor is handed out.
 */
#include "io/st_internal.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *name;
    size_t size;
} DTYPES[ADJ_ST_DTYPE_COUNT] = {
    [ADJ_ST_BOOL] = {"BOOL", 1}, [ADJ_ST_U8] = {"U8", 1},     [ADJ_ST_I8] = {"I8", 1},
    [ADJ_ST_I16] = {"I16", 2},   [ADJ_ST_U16] = {"U16", 2},   [ADJ_ST_F16] = {"F16", 2},
    [ADJ_ST_BF16] = {"BF16", 2}, [ADJ_ST_I32] = {"I32", 4},   [ADJ_ST_U32] = {"U32", 4},
    [ADJ_ST_F32] = {"F32", 4},   [ADJ_ST_F64] = {"F64", 8},   [ADJ_ST_I64] = {"I64", 8},
    [ADJ_ST_U64] = {"U64", 8},
};

const char *adj_st_dtype_name(adj_st_dtype d)
{
    return (unsigned)d < ADJ_ST_DTYPE_COUNT ? DTYPES[d].name : "?";
}

size_t adj_st_dtype_size(adj_st_dtype d)
{
    return (unsigned)d < ADJ_ST_DTYPE_COUNT ? DTYPES[d].size : 0;
}

void adj_st_free(adj_safetensors *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->count; i++)
        free((char *)f->tensors[i].name);
    for (int i = 0; i < f->nmeta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->tensors);
    free(f->meta_keys);
    free(f->meta_values);
    free(f->bytes);
    free(f);
}

/* ------------------------------------------------------------- header */

/* A JSON number that is a non-negative integer of at most 2^53 (cJSON
 * holds numbers as doubles: larger ones are not exact). */
static int get_uint(const cJSON *j, uint64_t *v)
{
    if (!cJSON_IsNumber(j))
        return 0;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != floor(d))
        return 0;
    *v = (uint64_t)d;
    return 1;
}

static int dtype_of(const char *s, adj_st_dtype *d)
{
    for (int k = 0; k < ADJ_ST_DTYPE_COUNT; k++)
        if (strcmp(s, DTYPES[k].name) == 0) {
            *d = (adj_st_dtype)k;
            return 1;
        }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Two members of the root object with the same name (cJSON keeps both):
 * the names sorted, neighbours compared.  *dup is NULL when there is
 * none; 0 when out of memory. */
static int duplicate_key(const cJSON *obj, int n, const char **dup, char *buf, size_t size)
{
    const char **names = malloc(((size_t)n + 1) * sizeof *names);
    if (!names)
        return 0;
    int k = 0;
    for (const cJSON *a = obj->child; a; a = a->next)
        names[k++] = a->string;
    qsort(names, (size_t)k, sizeof *names, by_name);
    *dup = NULL;
    for (int i = 1; i < k && !*dup; i++)
        if (strcmp(names[i - 1], names[i]) == 0) {
            snprintf(buf, size, "%s", names[i]);
            *dup = buf;
        }
    free(names);
    return 1;
}

static adj_status read_meta(adj_safetensors *f, const cJSON *m, const char *file, adj_error *err)
{
    if (!cJSON_IsObject(m))
        return adj_err_set(err, ADJ_EFORMAT, "%s: __metadata__ is not an object", file);
    int n = cJSON_GetArraySize(m);
    const char *dup = NULL;
    char dupbuf[68];
    if (!duplicate_key(m, n, &dup, dupbuf, sizeof dupbuf))
        return adj_err_set(err, ADJ_ENOMEM, "%s: out of memory for the metadata", file);
    if (dup)
        return adj_err_set(err, ADJ_EFORMAT, "%s: __metadata__ names \"%.64s\" twice", file, dup);
    f->meta_keys = calloc((size_t)n + 1, sizeof *f->meta_keys);
    f->meta_values = calloc((size_t)n + 1, sizeof *f->meta_values);
    if (!f->meta_keys || !f->meta_values)
        return adj_err_set(err, ADJ_ENOMEM, "%s: out of memory for the metadata", file);
    for (const cJSON *e = m->child; e; e = e->next) {
        if (!cJSON_IsString(e))
            return adj_err_set(err, ADJ_EFORMAT, "%s: __metadata__ entry \"%.64s\" is not a string",
                               file, e->string);
        f->meta_keys[f->nmeta] = strdup(e->string);
        f->meta_values[f->nmeta] = strdup(e->valuestring);
        f->nmeta++;
        if (!f->meta_keys[f->nmeta - 1] || !f->meta_values[f->nmeta - 1])
            return adj_err_set(err, ADJ_ENOMEM, "%s: out of memory for the metadata", file);
    }
    return ADJ_OK;
}

/* One tensor entry: fields, dtype, shape, offsets, and that the byte span
 * is the shape's size. */
static adj_status read_entry(adj_st_tensor *t, uint64_t off[2], const cJSON *e, const char *file,
                             adj_error *err)
{
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return adj_err_set(err, ADJ_EFORMAT, "%s: tensor \"%.64s\" is not an object", file, name);
    const cJSON *dt = NULL, *sh = NULL, *of = NULL;
    for (const cJSON *x = e->child; x; x = x->next) {
        if (strcmp(x->string, "dtype") == 0 && !dt)
            dt = x;
        else if (strcmp(x->string, "shape") == 0 && !sh)
            sh = x;
        else if (strcmp(x->string, "data_offsets") == 0 && !of)
            of = x;
        else
            return adj_err_set(err, ADJ_EFORMAT, "%s: tensor \"%.64s\": unexpected or repeated field \"%.32s\"",
                               file, name, x->string);
    }
    if (!dt || !sh || !of)
        return adj_err_set(err, ADJ_EFORMAT, "%s: tensor \"%.64s\" has no %s", file, name,
                           !dt ? "dtype" : !sh ? "shape" : "data_offsets");
    if (!cJSON_IsString(dt) || !dtype_of(dt->valuestring, &t->dtype))
        return adj_err_set(err, ADJ_EFORMAT, "%s: tensor \"%.64s\": unknown dtype %.32s", file, name,
                           cJSON_IsString(dt) ? dt->valuestring : "(not a string)");
    if (!cJSON_IsArray(sh))
        return adj_err_set(err, ADJ_EFORMAT, "%s: tensor \"%.64s\": shape is not an array", file, name);
    int nd = cJSON_GetArraySize(sh);
    if (nd > ADJ_MAX_DIMS)
        return adj_err_set(err, ADJ_EFORMAT, "%s: tensor \"%.64s\" has %d dimensions, more than %d",
                           file, name, nd, ADJ_MAX_DIMS);
    t->ndim = nd;
    uint64_t numel = 1;
    int k = 0, overflow = 0;
    for (const cJSON *d = sh->child; d; d = d->next, k++) {
        uint64_t v;
        if (!get_uint(d, &v))
            return adj_err_set(err, ADJ_EFORMAT,
                               "%s: tensor \"%.64s\": dimension %d is not a non-negative integer",
                               file, name, k);
        t->shape[k] = (int64_t)v;
        if (v && numel > UINT64_MAX / v)
            overflow = 1;
        numel *= v;
    }
    /* a zero dimension makes the tensor empty whatever the others are */
    for (k = 0; k < nd; k++)
        if (t->shape[k] == 0)
            overflow = 0, numel = 0;
    size_t es = DTYPES[t->dtype].size;
    if (overflow || numel > UINT64_MAX / es || numel * es > SIZE_MAX)
        return adj_err_set(err, ADJ_EFORMAT, "%s: tensor \"%.64s\": the shape's size overflows",
                           file, name);
    if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2 || !get_uint(of->child, &off[0]) ||
        !get_uint(of->child->next, &off[1]))
        return adj_err_set(err, ADJ_EFORMAT,
                           "%s: tensor \"%.64s\": data_offsets is not two non-negative integers",
                           file, name);
    if (off[1] < off[0])
        return adj_err_set(err, ADJ_EFORMAT, "%s: tensor \"%.64s\": data_offsets [%llu, %llu] end before they begin",
                           file, name, (unsigned long long)off[0], (unsigned long long)off[1]);
    if (off[1] - off[0] != numel * es)
        return adj_err_set(err, ADJ_EFORMAT,
                           "%s: tensor \"%.64s\": data_offsets span %llu bytes, the shape and dtype %s need %llu",
                           file, name, (unsigned long long)(off[1] - off[0]), DTYPES[t->dtype].name,
                           (unsigned long long)(numel * es));
    t->numel = (size_t)numel;
    t->nbytes = (size_t)(numel * es);
    return ADJ_OK;
}

typedef struct span {
    uint64_t begin, end;
    int tensor;
} span;

static int by_begin(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Parse the header; on success f->tensors (names owned, data unset), the
 * metadata, and *data_len = the bytes the tensors tile. */
static adj_status read_header(adj_safetensors *f, const char *text, size_t n, const char *file,
                              span **spans_out, uint64_t *data_len, adj_error *err)
{
    if (n == 0 || text[0] != '{')
        return adj_err_set(err, ADJ_EFORMAT, "%s: the header does not start with '{'", file);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, n, &end, 0);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t pos = at && at >= text && at <= text + n ? (size_t)(at - text) : 0;
        return adj_err_set(err, ADJ_EFORMAT, "%s: the header is not valid JSON (near byte %zu)", file,
                           pos);
    }
    adj_status s = ADJ_OK;
    /* cJSON skips any whitespace after the object: step back over it,
     * since only spaces may pad the header */
    while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == '\t' || end[-1] == ' '))
        end--;
    for (const char *p = end; p < text + n; p++)
        if (*p != ' ') {
            s = adj_err_set(err, ADJ_EFORMAT,
                            "%s: the header has bytes after its JSON object (only spaces may pad it)",
                            file);
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        s = adj_err_set(err, ADJ_EFORMAT, "%s: the header is not a JSON object", file);
        goto done;
    }
    int n_all = cJSON_GetArraySize(root);
    const char *dup = NULL;
    char dupbuf[68];
    if (!duplicate_key(root, n_all, &dup, dupbuf, sizeof dupbuf)) {
        s = adj_err_set(err, ADJ_ENOMEM, "%s: out of memory for %d header entries", file, n_all);
        goto done;
    }
    if (dup) {
        s = adj_err_set(err, ADJ_EFORMAT, "%s: the header names \"%.64s\" twice", file, dup);
        goto done;
    }
    f->tensors = calloc((size_t)n_all + 1, sizeof *f->tensors);
    span *spans = calloc((size_t)n_all + 1, sizeof *spans);
    *spans_out = spans;
    if (!f->tensors || !spans) {
        s = adj_err_set(err, ADJ_ENOMEM, "%s: out of memory for %d header entries", file, n_all);
        goto done;
    }
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if ((s = read_meta(f, e, file, err)) != ADJ_OK)
                goto done;
            continue;
        }
        adj_st_tensor *t = &f->tensors[f->count];
        uint64_t off[2] = {0, 0};
        if ((s = read_entry(t, off, e, file, err)) != ADJ_OK)
            goto done;
        t->name = strdup(e->string);
        if (!t->name) {
            s = adj_err_set(err, ADJ_ENOMEM, "%s: out of memory for tensor names", file);
            goto done;
        }
        spans[f->count] = (span){off[0], off[1], f->count};
        f->count++;
    }
    /* the spans must tile [0, data_len) exactly */
    qsort(spans, (size_t)f->count, sizeof *spans, by_begin);
    uint64_t at = 0;
    for (int i = 0; i < f->count; i++) {
        const char *nm = f->tensors[spans[i].tensor].name;
        if (spans[i].begin > at) {
            s = adj_err_set(err, ADJ_EFORMAT, "%s: tensor \"%.64s\" begins at byte %llu: a gap after byte %llu",
                            file, nm, (unsigned long long)spans[i].begin, (unsigned long long)at);
            goto done;
        }
        if (spans[i].begin < at) {
            s = adj_err_set(err, ADJ_EFORMAT, "%s: tensor \"%.64s\" at byte %llu overlaps another tensor (ending at %llu)",
                            file, nm, (unsigned long long)spans[i].begin, (unsigned long long)at);
            goto done;
        }
        at = spans[i].end;
    }
    *data_len = at;
done:
    cJSON_Delete(root);
    return s;
}

static uint64_t le64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

/* Check the 8-byte length against the total size (what the file holds). */
static adj_status check_length(const unsigned char *b8, uint64_t total, const char *file,
                               uint64_t *hlen, adj_error *err)
{
    if (total < 8)
        return adj_err_set(err, ADJ_EFORMAT, "%s: %llu bytes, too short for the 8-byte header length",
                           file, (unsigned long long)total);
    *hlen = le64(b8);
    if (*hlen > ADJ_ST_MAX_HEADER)
        return adj_err_set(err, ADJ_EFORMAT, "%s: header length %llu is over the limit of %llu bytes",
                           file, (unsigned long long)*hlen, (unsigned long long)ADJ_ST_MAX_HEADER);
    if (*hlen > total - 8)
        return adj_err_set(err, ADJ_EFORMAT,
                           "%s: truncated: header length %llu but only %llu bytes follow it", file,
                           (unsigned long long)*hlen, (unsigned long long)(total - 8));
    return ADJ_OK;
}

static adj_status check_data_len(uint64_t hlen, uint64_t data_len, uint64_t total, const char *file,
                                 adj_error *err)
{
    uint64_t have = total - 8 - hlen;
    if (data_len > have)
        return adj_err_set(err, ADJ_EFORMAT,
                           "%s: truncated: the header declares %llu bytes of data, the file holds %llu",
                           file, (unsigned long long)data_len, (unsigned long long)have);
    if (data_len < have)
        return adj_err_set(err, ADJ_EFORMAT,
                           "%s: %llu bytes after the data the header declares (%llu bytes)", file,
                           (unsigned long long)(have - data_len), (unsigned long long)data_len);
    return ADJ_OK;
}

/* Point every tensor at its bytes in f->bytes (data at f->bytes + base). */
static void place(adj_safetensors *f, const span *spans, size_t base)
{
    for (int i = 0; i < f->count; i++)
        f->tensors[spans[i].tensor].data = f->bytes + base + spans[i].begin;
}

static adj_safetensors *new_file(void) { return calloc(1, sizeof(adj_safetensors)); }

adj_status adj_st_parse(const void *bytes, size_t len, const char *name, adj_safetensors **out,
                        adj_error *err)
{
    if (!out)
        return adj_err_set(err, ADJ_EINVAL, "adj_st_parse: NULL out");
    *out = NULL;
    if (!bytes && len)
        return adj_err_set(err, ADJ_EINVAL, "adj_st_parse: NULL bytes");
    const char *file = name ? name : "safetensors";
    const unsigned char *b = bytes;
    uint64_t hlen, data_len = 0;
    adj_status s = check_length(b, len, file, &hlen, err);
    if (s != ADJ_OK)
        return s;
    adj_safetensors *f = new_file();
    span *spans = NULL;
    if (!f)
        return adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", file);
    s = read_header(f, (const char *)b + 8, (size_t)hlen, file, &spans, &data_len, err);
    if (s == ADJ_OK)
        s = check_data_len(hlen, data_len, len, file, err);
    if (s == ADJ_OK && !(f->bytes = malloc(data_len ? (size_t)data_len : 1)))
        s = adj_err_set(err, ADJ_ENOMEM, "%s: out of memory for %llu bytes of data", file,
                        (unsigned long long)data_len);
    if (s == ADJ_OK) {
        memcpy(f->bytes, b + 8 + hlen, (size_t)data_len);
        place(f, spans, 0);
        f->data_len = (size_t)data_len;
        *out = f;
        adj_err_clear(err);
    } else {
        adj_st_free(f);
    }
    free(spans);
    return s;
}

/* Read exactly n bytes at the current position. */
static adj_status read_exact(int fd, void *buf, size_t n, const char *path, const char *what,
                             adj_error *err)
{
    unsigned char *p = buf;
    while (n) {
        ssize_t k = read(fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return adj_err_set(err, ADJ_EIO, "%s: cannot read the %s: %s", path, what, strerror(errno));
        if (k == 0)
            return adj_err_set(err, ADJ_EFORMAT, "%s: truncated while reading the %s", path, what);
        p += k;
        n -= (size_t)k;
    }
    return ADJ_OK;
}

adj_status adj_st_read(const char *path, adj_safetensors **out, adj_error *err)
{
    if (!out)
        return adj_err_set(err, ADJ_EINVAL, "adj_st_read: NULL out");
    *out = NULL;
    if (!path || !*path)
        return adj_err_set(err, ADJ_EINVAL, "adj_st_read: %s path", path ? "empty" : "NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return adj_err_set(err, ADJ_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    adj_status s = ADJ_OK;
    adj_safetensors *f = NULL;
    char *header = NULL;
    span *spans = NULL;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        s = adj_err_set(err, ADJ_EIO, "%s: not a regular file", path);
        goto done;
    }
    uint64_t total = (uint64_t)sb.st_size, hlen, data_len = 0;
    unsigned char b8[8] = {0};
    if (total >= 8 && (s = read_exact(fd, b8, 8, path, "header length", err)) != ADJ_OK)
        goto done;
    if ((s = check_length(b8, total, path, &hlen, err)) != ADJ_OK)
        goto done;
    if (!(header = malloc(hlen ? (size_t)hlen : 1)) || !(f = new_file())) {
        s = adj_err_set(err, ADJ_ENOMEM, "%s: out of memory for a %llu-byte header", path,
                        (unsigned long long)hlen);
        goto done;
    }
    if ((s = read_exact(fd, header, (size_t)hlen, path, "header", err)) != ADJ_OK ||
        (s = read_header(f, header, (size_t)hlen, path, &spans, &data_len, err)) != ADJ_OK ||
        (s = check_data_len(hlen, data_len, total, path, err)) != ADJ_OK)
        goto done;
    if (!(f->bytes = malloc(data_len ? (size_t)data_len : 1))) {
        s = adj_err_set(err, ADJ_ENOMEM, "%s: out of memory for %llu bytes of data", path,
                        (unsigned long long)data_len);
        goto done;
    }
    if ((s = read_exact(fd, f->bytes, (size_t)data_len, path, "data", err)) != ADJ_OK)
        goto done;
    place(f, spans, 0);
    f->data_len = (size_t)data_len;
done:
    close(fd);
    free(header);
    free(spans);
    if (s != ADJ_OK) {
        adj_st_free(f);
        return s;
    }
    *out = f;
    adj_err_clear(err);
    return ADJ_OK;
}

/* ------------------------------------------------------------- access */

int adj_st_count(const adj_safetensors *f) { return f ? f->count : 0; }

const adj_st_tensor *adj_st_tensor_at(const adj_safetensors *f, int i)
{
    return f && i >= 0 && i < f->count ? &f->tensors[i] : NULL;
}

const adj_st_tensor *adj_st_find(const adj_safetensors *f, const char *name)
{
    if (!f || !name)
        return NULL;
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

int adj_st_meta_count(const adj_safetensors *f) { return f ? f->nmeta : 0; }

const char *adj_st_meta_key(const adj_safetensors *f, int i)
{
    return f && i >= 0 && i < f->nmeta ? f->meta_keys[i] : NULL;
}

const char *adj_st_meta_value(const adj_safetensors *f, int i)
{
    return f && i >= 0 && i < f->nmeta ? f->meta_values[i] : NULL;
}

const char *adj_st_meta(const adj_safetensors *f, const char *key)
{
    if (!f || !key)
        return NULL;
    for (int i = 0; i < f->nmeta; i++)
        if (strcmp(f->meta_keys[i], key) == 0)
            return f->meta_values[i];
    return NULL;
}
