/*
 * An autoencoder's pictures: reconstructions.png (one test image of each
 * class in the top row, its reconstruction below) and, for a code of two
 * units, code.svg (the test images' codes, coloured by class).
 */
#include "commands.h"
#include "data.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define ZOOM 3 /* pixels per image pixel */
#define GAP 4
#define MAX_COLS 10

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* A PNG chunk of n data bytes at out (type, data, CRC); returns its size. */
static size_t chunk(unsigned char *out, const char *type, const unsigned char *data, size_t n)
{
    put32(out, (uint32_t)n);
    memcpy(out + 4, type, 4);
    if (n)
        memcpy(out + 8, data, n);
    uLong crc = crc32(0L, out + 4, (uInt)(n + 4));
    put32(out + 8 + n, (uint32_t)crc);
    return n + 12;
}

/* An 8-bit grey PNG of w x h pixels (row-major) at path, atomically.
 * 0 or -1 (printed). */
static int write_png(const char *path, const unsigned char *pix, int w, int h)
{
    size_t raw_n = (size_t)h * (size_t)(w + 1);
    unsigned char *raw = malloc(raw_n);
    uLongf z_n = compressBound((uLong)raw_n);
    unsigned char *z = malloc(z_n), *png = malloc(z_n + 64);
    int rc = -1;
    if (!raw || !z || !png) {
        fprintf(stderr, "adjoint: out of memory for %s\n", path);
        goto done;
    }
    for (int y = 0; y < h; y++) {
        raw[(size_t)y * (size_t)(w + 1)] = 0; /* filter: none */
        memcpy(raw + (size_t)y * (size_t)(w + 1) + 1, pix + (size_t)y * (size_t)w, (size_t)w);
    }
    if (compress2(z, &z_n, raw, (uLong)raw_n, 9) != Z_OK) {
        fprintf(stderr, "adjoint: cannot compress %s\n", path);
        goto done;
    }
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char ihdr[13] = {0};
    put32(ihdr, (uint32_t)w);
    put32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8; /* bit depth; colour type 0 (grey), no interlace */
    size_t n = 8;
    memcpy(png, sig, 8);
    n += chunk(png + n, "IHDR", ihdr, 13);
    n += chunk(png + n, "IDAT", z, z_n);
    n += chunk(png + n, "IEND", NULL, 0);
    adj_error err;
    if (adj_file_write(path, png, n, &err) != ADJ_OK)
        fprintf(stderr, "adjoint: %s\n", err.message);
    else
        rc = 0;
done:
    free(raw);
    free(z);
    free(png);
    return rc;
}

/* The code of an autoencoder for x: its encoder's layers in order, as
 * the architecture names them ("encoder.I.weight"): a 4-D weight is a
 * 3x3 convolution of stride 2 and padding 1, a 2-D one a dense layer on
 * the flattened maps; each followed by the activation "act". */
static adj_var *encode(adj_model *m, adj_tape *t, adj_var *x)
{
    adj_activation act;
    adj_activation_parse(adj_model_config(m, "act"), &act);
    adj_params *p = adj_model_params(m);
    long long c, hh, ww;
    const char *img = adj_model_config(m, "channels");
    adj_var *h = x;
    if (img && *img && sscanf(adj_model_config(m, "image"), "%lld,%lld,%lld", &c, &hh, &ww) == 3)
        h = adj_reshape(x, 4, ((int64_t[]){adj_dim(x, 0), c, hh, ww}));
    adj_conv2d_opts co = {{2, 2}, {1, 1}, {1, 1}, 1};
    for (int i = 0; i + 1 < adj_params_count(p); i += 2) {
        if (strncmp(adj_model_param_name(m, i), "encoder.", 8) != 0)
            break;
        if (adj_params_tensor_ndim(p, i) == 4) {
            h = adj_conv2d(h, adj_param(t, p, i), adj_param(t, p, i + 1), &co);
        } else {
            if (adj_ndim(h) > 2)
                h = adj_flatten(h, 1, adj_ndim(h) - 1);
            h = adj_linear(h, adj_param(t, p, i), adj_param(t, p, i + 1));
        }
        h = adj_activate(h, act);
    }
    return h;
}

/* The model's outputs (rows x cols) and, when code is not NULL, its codes
 * (rows x ncode: the encoder's dense layer and activation) for the given
 * rows of s.  0 or -1 (printed). */
static int run_model(adj_model *m, const adj_train_data *td, const adj_dataset *s,
                     const size_t *rows, size_t n, float *out, float *code, int ncode)
{
    size_t cols = s->cols;
    float *x = malloc(n * cols * sizeof *x);
    adj_tape *t = adj_tape_new();
    int rc = -1;
    if (!x || !t) {
        fprintf(stderr, "adjoint: out of memory for the pictures\n");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        memcpy(x + i * cols, s->x + rows[i] * cols, cols * sizeof *x);
    adj_model_set_training(m, 0);
    int64_t sh[4] = {(int64_t)n, (int64_t)cols};
    int nd = 2;
    for (int k = 0; k < td->ndim; k++)
        sh[k + 1] = td->shape[k], nd = td->ndim + 1;
    adj_var *xv = adj_constant_f32(t, nd, sh, x);
    adj_var *y = adj_model_forward(m, xv);
    adj_var *h = code ? encode(m, t, xv) : NULL;
    if (adj_tape_status(t) != ADJ_OK) {
        fprintf(stderr, "adjoint: pictures: %s\n", adj_tape_message(t));
        goto done;
    }
    memcpy(out, adj_data(y), n * cols * sizeof *out);
    if (code)
        memcpy(code, adj_data(h), n * (size_t)ncode * sizeof *code);
    rc = 0;
done:
    adj_tape_free(t);
    free(x);
    return rc;
}

/* Originals above reconstructions, one column per class. */
static int grid(const char *dir, adj_model *m, const adj_train_data *td, const adj_dataset *s)
{
    size_t cols = s->cols, side = (size_t)lround(sqrt((double)cols));
    if (side * side != cols) {
        fprintf(stderr, "adjoint: --pictures draws square images; the rows have %zu values\n",
                cols);
        return -1;
    }
    size_t rows[MAX_COLS], n = 0;
    for (int c = 0; c < MAX_COLS && n < MAX_COLS; c++) /* the first image of each class */
        for (size_t r = 0; r < s->rows; r++)
            if (s->y[r] == c) {
                rows[n++] = r;
                break;
            }
    for (size_t r = 0; n < MAX_COLS && r < s->rows && n < s->rows; r++)
        rows[n++] = r; /* fewer classes: more images */
    float *out = malloc(n * cols * sizeof *out);
    int cell = (int)side * ZOOM, w = (int)n * (cell + GAP) + GAP, h = 2 * (cell + GAP) + GAP;
    unsigned char *pix = malloc((size_t)w * (size_t)h);
    int rc = -1;
    if (!out || !pix) {
        fprintf(stderr, "adjoint: out of memory for the pictures\n");
        goto done;
    }
    if (run_model(m, td, s, rows, n, out, NULL, 0))
        goto done;
    /* the originals' range maps to black .. white (byte images: 0 .. 1) */
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < cols; j++) {
            double v = s->x[rows[i] * cols + j];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    if (!(hi > lo))
        hi = lo + 1;
    memset(pix, 128, (size_t)w * (size_t)h);
    for (size_t i = 0; i < n; i++)
        for (int row = 0; row < 2; row++)
            for (int y = 0; y < cell; y++)
                for (int x = 0; x < cell; x++) {
                    size_t j = (size_t)(y / ZOOM) * side + (size_t)(x / ZOOM);
                    double v = row ? out[i * cols + j] : s->x[rows[i] * cols + j];
                    v = (v - lo) / (hi - lo);
                    v = v < 0 ? 0 : v > 1 ? 1 : v;
                    int px = GAP + (int)i * (cell + GAP) + x, py = GAP + row * (cell + GAP) + y;
                    pix[(size_t)py * (size_t)w + (size_t)px] = (unsigned char)lround(v * 255);
                }
    char path[4096];
    snprintf(path, sizeof path, "%s/reconstructions.png", dir);
    rc = write_png(path, pix, w, h);
done:
    free(out);
    free(pix);
    return rc;
}

/* The 2-D codes of up to 2000 test images, one colour per class. */
static int scatter(const char *dir, adj_model *m, const adj_train_data *td, const adj_dataset *s)
{
    static const char *const colours[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                            "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                            "#bcbd22", "#17becf"};
    size_t n = s->rows < 2000 ? s->rows : 2000;
    size_t *rows = calloc(n ? n : 1, sizeof *rows);
    float *out = malloc(n * s->cols * sizeof *out), *code = malloc(2 * n * sizeof *code);
    char *svg = NULL;
    size_t svg_n = 0;
    int rc = -1;
    if (!rows || !out || !code) {
        fprintf(stderr, "adjoint: out of memory for the pictures\n");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        rows[i] = i;
    if (run_model(m, td, s, rows, n, out, code, 2))
        goto done;
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    for (size_t i = 0; i < 2 * n; i++) {
        lo[i % 2] = code[i] < lo[i % 2] ? code[i] : lo[i % 2];
        hi[i % 2] = code[i] > hi[i % 2] ? code[i] : hi[i % 2];
    }
    FILE *f = open_memstream(&svg, &svg_n);
    if (!f) {
        fprintf(stderr, "adjoint: out of memory for the pictures\n");
        goto done;
    }
    const int W = 640, H = 640, M = 40;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
               "<text x=\"%d\" y=\"24\" font-size=\"16\" text-anchor=\"middle\">2-D code of %zu "
               "test images, coloured by class</text>\n",
            W + 120, H + M, (W + 120) / 2, n);
    for (size_t i = 0; i < n; i++) {
        double u = hi[0] > lo[0] ? (code[2 * i] - lo[0]) / (hi[0] - lo[0]) : 0.5;
        double v = hi[1] > lo[1] ? (code[2 * i + 1] - lo[1]) / (hi[1] - lo[1]) : 0.5;
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\" fill-opacity=\"0.7\"/>\n",
                M + u * (W - 2 * M), M + (1 - v) * (H - 2 * M), colours[s->y[i] % 10]);
    }
    for (int c = 0; c < 10 && c < s->classes; c++)
        fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"5\" fill=\"%s\"/><text x=\"%d\" y=\"%d\" "
                   "font-size=\"13\">class %d</text>\n",
                W + 10, M + 20 * c, colours[c], W + 20, M + 20 * c + 4, c);
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) {
        fprintf(stderr, "adjoint: out of memory for the pictures\n");
        goto done;
    }
    char path[4096];
    adj_error err;
    snprintf(path, sizeof path, "%s/code.svg", dir);
    if (adj_file_write(path, svg, svg_n, &err) != ADJ_OK)
        fprintf(stderr, "adjoint: %s\n", err.message);
    else
        rc = 0;
done:
    free(svg);
    free(rows);
    free(out);
    free(code);
    return rc;
}

int adj_tool_ae_pictures(const char *dir, adj_model *m, const adj_train_data *td,
                         const adj_tool_data *d)
{
    const adj_dataset *s = d->test && d->test->rows ? d->test : d->val;
    if (!s || !s->rows) {
        fprintf(stderr, "adjoint: --pictures needs test or validation images\n");
        return -1;
    }
    struct stat sb;
    if (mkdir(dir, 0755) != 0 && (errno != EEXIST || stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
        fprintf(stderr, "adjoint: --pictures %s: cannot create the directory: %s\n", dir,
                strerror(errno == EEXIST ? ENOTDIR : errno));
        return -1;
    }
    if (grid(dir, m, td, s))
        return -1;
    const char *code = adj_model_config(m, "code");
    return code && strcmp(code, "2") == 0 ? scatter(dir, m, td, s) : 0;
}
