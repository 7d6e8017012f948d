/*
 * A sweep of the whole public API with bad arguments.  Every public
 * function is one row of `rows` below: its name, a letter per argument
 * saying what kind of value it is, a letter saying how it reports failure,
 * and a one-line call written with valid arguments.  The sweep calls each
 * function once as written (it must succeed), then once per bad value of
 * each argument: every pointer NULL, every count, index or size 0,
 * negative and huge (INT_MAX, INT_MIN, SIZE_MAX, INT64_MAX, INT64_MIN),
 * every shape array NULL or holding -1, 0 or INT64_MAX, every double 0,
 * -1, NaN and infinite, every string empty, every enum out of range.
 * Each call runs in a forked child (Check's default) on a fresh fixture
 * whose tapes, stores and models allocate through a counting allocator
 * that must be back to zero afterwards, and the suite runs under
 * AddressSanitizer and LeakSanitizer in CI, so every row checks: no crash,
 * no memory error, no leak, and the outcome through the function's own
 * channel (status, tape, store, adj_error, result), with a message that
 * names the function.  A NULL where the contract allows one must succeed.
 *
 * Another test reads the headers include/adjoint/NAME.h and fails if a declared function
 * has no row, so a new function needs one line here.  The specific
 * defects the sweep was built around (a parameter store that grows under
 * a tape, an optimizer freed after its store) have tests of their own at
 * the end.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

/* -------------------------------------------------------------- fixture */

typedef struct fx {
    test_alloc cnt;
    adj_allocator al;
    adj_tape *t;
    adj_var *a, *b, *v2, *s, *f32, *m22;
    adj_var *i2, *i22;        /* index tensors {0, 1} and {{0, 1}, {1, 0}} */
    adj_params *p;            /* f64: "w" (2,2), "b" (2) */
    adj_optim *opt;
    adj_mlp *mlp;             /* f64 2-3-2 with batch norm */
    adj_batchnorm *bn;        /* 2 features in p */
    adj_dataset *ds;          /* 4 rows, 2 features, 2 classes */
    adj_batcher *batcher;
    adj_idx *idx;
    adj_rng rng;
    adj_error err;
    adj_gradcheck_report rep;
    adj_jvpcheck_report jrep;
    adj_tape_stats stats;
    int hold;                 /* H(v): 0 gives v, 1 also keeps it, 2 gives the kept ones */
    int nheld, iheld;
    adj_var *held[16];
    FILE *sink;
    char dir[64], model[256], idxfile[256], labels[256], csv[256], out[256], shape[64];
    double buf[64];           /* scratch for outputs */
    int32_t lab[8];
    int64_t counts[64];
    size_t order[8];
    uint8_t mask[8];
} fx;

static const int32_t labels01[] = {0, 1};
static const int64_t shape22[] = {2, 2};
static const int64_t shape2[] = {2};
static const double zeros[64];

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    ck_assert_int_eq(fclose(fp), 0);
}

/* The fixture's vars, recorded on f->t in a fixed order (so that recording
 * them again after a reset puts each in the slot of its namesake). */
static void fx_vars(fx *f)
{
    f->a = adj_tensor_f64(f->t, 2, shape22, ((double[]){1, 2, 3, 4}));
    f->b = adj_tensor_f64(f->t, 2, shape22, ((double[]){0.5, -1, 2, 0.25}));
    f->v2 = adj_tensor_f64(f->t, 1, shape2, ((double[]){0.1, 0.2}));
    f->s = adj_scalar(f->t, 0.5);
    f->f32 = adj_tensor_f32(f->t, 2, shape22, ((float[]){1, 2, 3, 4}));
    f->m22 = adj_mul(f->a, f->b);
    f->i2 = adj_index(f->t, 1, shape2, ((const int32_t[]){0, 1}));
    f->i22 = adj_index(f->t, 2, shape22, ((const int32_t[]){0, 1, 1, 0}));
}

static void fx_init(fx *f)
{
    memset(f, 0, sizeof *f);
    f->al = test_alloc_init(&f->cnt);
    f->cnt.max_request = (size_t)1 << 30; /* refuse absurd requests before malloc sees them */
    f->t = adj_tape_new_with(&f->al);
    ck_assert_ptr_nonnull(f->t);
    fx_vars(f);
    f->p = adj_params_new_with(ADJ_F64, &f->al);
    ck_assert_int_eq(adj_params_add(f->p, "w", 2, shape22), 0);
    ck_assert_int_eq(adj_params_add(f->p, "b", 1, shape2), 1);
    f->bn = adj_batchnorm_new(f->p, "bn", 2, 0, 0, &f->err);
    ck_assert_ptr_nonnull(f->bn);
    adj_optim_config oc = adj_optim_defaults(ADJ_OPTIM_ADAM);
    f->opt = adj_optim_new_with(f->p, &oc, &f->al, NULL);
    ck_assert_ptr_nonnull(f->opt);
    adj_rng_seed(&f->rng, 3);
    adj_mlp_config c = adj_mlp_config_default();
    c.dtype = ADJ_F64;
    c.batchnorm = 1;
    ck_assert_int_eq(adj_mlp_config_set_sizes(&c, 3, ((int64_t[]){2, 3, 2}), ADJ_ACT_TANH), ADJ_OK);
    f->mlp = adj_mlp_new_with(&c, &f->rng, &f->al, &f->err);
    ck_assert_ptr_nonnull(f->mlp);
    f->ds = adj_dataset_new(4, 2);
    ck_assert_ptr_nonnull(f->ds);
    for (size_t i = 0; i < 8; i++)
        f->ds->x[i] = (float)i;
    f->ds->y[1] = f->ds->y[3] = 1;
    f->ds->classes = 2;
    f->batcher = adj_batcher_new(f->ds, 2, 1, 7);
    ck_assert_ptr_nonnull(f->batcher);
    for (size_t i = 0; i < 8; i++)
        f->order[i] = i;
    memset(f->mask, 1, sizeof f->mask);
    f->sink = fopen("/dev/null", "w");
    ck_assert_ptr_nonnull(f->sink);

    snprintf(f->dir, sizeof f->dir, "/tmp/adj-misuse-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(f->dir));
    snprintf(f->model, sizeof f->model, "%s/model.adj", f->dir);
    ck_assert_int_eq(adj_model_save(f->mlp, f->model, &f->err), ADJ_OK);
    snprintf(f->idxfile, sizeof f->idxfile, "%s/images", f->dir);
    ck_assert_int_eq(adj_idx_write(f->idxfile, ADJ_IDX_U8, 3, ((int64_t[]){2, 2, 2}),
                                   ((uint8_t[]){0, 1, 2, 3, 4, 5, 6, 7}), 0, &f->err), ADJ_OK);
    snprintf(f->labels, sizeof f->labels, "%s/labels", f->dir);
    ck_assert_int_eq(adj_idx_write(f->labels, ADJ_IDX_U8, 1, ((int64_t[]){2}),
                                   ((uint8_t[]){0, 1}), 0, &f->err), ADJ_OK);
    ck_assert_int_eq(adj_idx_read(f->idxfile, &f->idx, &f->err), ADJ_OK);
    snprintf(f->csv, sizeof f->csv, "%s/data.csv", f->dir);
    write_file(f->csv, "a,b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n");
    snprintf(f->out, sizeof f->out, "%s/out", f->dir);
    /* an IDX pair under the MNIST names, for adj_dataset_load_idx */
    char path[300];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", f->dir);
    ck_assert_int_eq(adj_idx_write(path, ADJ_IDX_U8, 3, ((int64_t[]){2, 2, 2}),
                                   ((uint8_t[]){0, 1, 2, 3, 4, 5, 6, 7}), 0, &f->err), ADJ_OK);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", f->dir);
    ck_assert_int_eq(adj_idx_write(path, ADJ_IDX_U8, 1, ((int64_t[]){2}), ((uint8_t[]){0, 1}), 0,
                                   &f->err), ADJ_OK);
    memset(&f->err, 0, sizeof f->err);
}

static void fx_free(fx *f)
{
    adj_batcher_free(f->batcher);
    adj_dataset_free(f->ds);
    adj_idx_free(f->idx);
    adj_optim_free(f->opt);
    adj_batchnorm_free(f->bn);
    adj_params_free(f->p);
    adj_mlp_free(f->mlp);
    adj_tape_free(f->t);
    fclose(f->sink);
    ck_assert_msg(f->cnt.live == 0, "%zu bytes leaked", f->cnt.live);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ----------------------------------------------------------- mutations */

/* One bad value for one argument. */
typedef struct mut {
    int arg;               /* which argument (-1: none, the valid call) */
    int null;              /* the pointer is NULL */
    long long i;           /* int, int64 and enum values */
    size_t z;              /* size_t values */
    double d;
    const int64_t *shape;  /* a replacement shape array (NULL when null) */
    const char *str;       /* a replacement string */
    char what[48];         /* "NULL", "-1", "SIZE_MAX", ... for messages */
} mut;

/* The argument k as called: the valid value `v`, or the bad one. */
#define P(k, v) (m->arg == (k) && m->null ? NULL : (v))
#define Y(k, v) (m->arg == (k) ? m->shape : (v))
#define S(k, v) (m->arg == (k) ? m->str : (v))
#define N(k, v) (m->arg == (k) ? (int)m->i : (v))
#define L(k, v) (m->arg == (k) ? (int64_t)m->i : (int64_t)(v))
#define Z(k, v) (m->arg == (k) ? m->z : (size_t)(v))
#define D(k, v) (m->arg == (k) ? m->d : (double)(v))
#define E(k, T, v) (m->arg == (k) ? (T)m->i : (v))

/* H(expr): a var a row's call builds (see misuse_rows.h). */
static adj_var *held_put(fx *f, adj_var *v)
{
    if (f->hold == 1 && f->nheld < (int)(sizeof f->held / sizeof f->held[0]))
        f->held[f->nheld++] = v;
    return v;
}
static adj_var *held_next(fx *f)
{
    ck_assert_msg(f->iheld < f->nheld, "the call builds more vars than it did before");
    return f->held[f->iheld++];
}
#define H(expr) (f->hold == 2 ? held_next(f) : held_put(f, (expr)))
#define PREP(...)                                                                                \
    do {                                                                                         \
        if (f->hold != 2) {                                                                      \
            __VA_ARGS__;                                                                         \
        }                                                                                        \
    } while (0)

/* What a call gave back. */
typedef struct out {
    adj_status st;     /* status returned (or derived) */
    const void *ptr;   /* pointer returned (compared with NULL only) */
    double num;        /* number returned */
    int ret;           /* int returned */
    char msg[512];     /* the message of the function's channel */
} out;

static void msg_tape(out *o, const adj_tape *t) { snprintf(o->msg, sizeof o->msg, "%s", adj_tape_message(t)); }

typedef void (*call_fn)(fx *f, const mut *m, out *o);

/*
 * How a function reports failure (the row's `how`):
 *   't'  returns a var; errors on the fixture's tape (NULL when no tape can
 *        be found from the arguments)
 *   'T'  returns a status that is also the tape's sticky error
 *   's'  returns a status (message, if any, in o->msg)
 *   'e'  returns a status, message in the adj_error
 *   'O'  returns an object, NULL on failure with the reason in the adj_error
 *   'o'  returns an object or pointer, NULL on failure
 *   'q'  parameter store call: -1 and the store's status and message
 *   'g'  a getter: any value (checked against `gives` for a NULL argument)
 *   '-'  returns nothing
 *
 * Argument letters: 'V' a var or tape the error can be recorded on; 'P' a
 * pointer that must not be NULL; 'p' a pointer that may be NULL (the call
 * must then succeed); 'n' an int count, index or dimension count; 'l' an
 * int64 size; 'z' a size_t; 'k' a size_t bounding a caller's buffer (only
 * 0 is tried: larger is the caller's promise); 'd' a double; 'e' an enum;
 * 'Y' a shape array; 'S' a string; '.' not varied (file, line, seeds,
 * flags).
 */
typedef struct row {
    const char *name;  /* the function */
    const char *word;  /* what its messages start with (NULL: name less "_at") */
    const char *args;
    char how;
    const char *gives; /* 'g' rows: the value for a NULL argument ("nan", "0", "-1", "null", "?") */
    call_fn call;
} row;

/* The function adj_gradcheck checks in its row: sum(x^2). */
static adj_var *misuse_fn(adj_tape *t, adj_var *const *in, int n, void *user)
{
    (void)t;
    (void)n;
    (void)user;
    return adj_sum(adj_square(in[0]));
}

/* A writer holding the 2x2 zeros as "w" and one metadata entry, and the
 * file it writes in the fixture's directory, read back (for the
 * safetensors rows). */
static adj_st_writer *st_writer(void)
{
    adj_st_writer *w = adj_st_writer_new();
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(adj_st_writer_add(w, "w", ADJ_ST_F64, 2, shape22, zeros, NULL), ADJ_OK);
    ck_assert_int_eq(adj_st_writer_meta(w, "k", "v", NULL), ADJ_OK);
    return w;
}

static const char *st_path(fx *f)
{
    static char path[300];
    snprintf(path, sizeof path, "%s/w.safetensors", f->dir);
    adj_st_writer *w = st_writer();
    ck_assert_int_eq(adj_st_writer_save(w, path, NULL), ADJ_OK);
    adj_st_writer_free(w);
    return path;
}

static adj_safetensors *st_file(fx *f)
{
    adj_safetensors *s = NULL;
    ck_assert_int_eq(adj_st_read(st_path(f), &s, NULL), ADJ_OK);
    return s;
}

/* An f64 "mlp" 2-3-2 model, and its file in the fixture's directory (for
 * the model.h rows). */
static adj_model *model_of(void)
{
    const char *kv[] = {"sizes", "2,3,2", "batchnorm", "1"};
    adj_rng rng;
    adj_rng_seed(&rng, 5);
    adj_model *m = adj_model_new("mlp", 2, kv, ADJ_F64, &rng, NULL);
    ck_assert_ptr_nonnull(m);
    return m;
}

/* A small "gpt" model and a key/value cache of it (trainer). */
static adj_model *gpt_of(void)
{
    const char *kv[] = {"vocab_size", "5", "n_positions", "4", "n_embd", "4", "n_layer", "1",
                        "n_head", "2"};
    adj_rng rng;
    adj_rng_seed(&rng, 5);
    adj_model *m = adj_model_new("gpt", 5, kv, ADJ_F64, &rng, NULL);
    ck_assert_ptr_nonnull(m);
    return m;
}

static const char *model_path(fx *f)
{
    static char path[300];
    snprintf(path, sizeof path, "%s/m.safetensors", f->dir);
    adj_model *m = model_of();
    ck_assert_int_eq(adj_model_write(m, path, NULL), ADJ_OK);
    adj_model_free(m);
    return path;
}

/* A two-layer "gpt" model as a Hugging Face GPT-2 directory in the
 * fixture's directory (for adj_model_load_hf). */
static const char *hf_path(fx *f)
{
    static char path[300];
    char file[340];
    snprintf(path, sizeof path, "%s/gpt2", f->dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    snprintf(file, sizeof file, "%s/config.json", path);
    write_file(file, "{\"model_type\": \"gpt2\", \"vocab_size\": 5, \"n_positions\": 4, \"n_embd\": 4, "
                     "\"n_layer\": 2, \"n_head\": 2, \"layer_norm_epsilon\": 1e-5}");
    const char *kv[] = {"vocab_size", "5", "n_positions", "4", "n_embd", "4", "n_layer", "2", "n_head", "2"};
    adj_rng rng;
    adj_rng_seed(&rng, 5);
    adj_model *m = adj_model_new("gpt", 5, kv, ADJ_F32, &rng, NULL);
    ck_assert_ptr_nonnull(m);
    snprintf(file, sizeof file, "%s/model.safetensors", path);
    ck_assert_int_eq(adj_model_write(m, file, NULL), ADJ_OK);
    adj_model_free(m);
    return path;
}

/* A GPT-2 tokenizer directory in the fixture's directory: the 256 byte
 * tokens (ids = bytes) and the merge "a b" -> "ab" (id 256), and the
 * tokenizer read from it (for the bpe.h rows). */
static size_t bpe_vocab(char *vocab, size_t cap)
{
    size_t at = 0;
    int extra = 0;
    vocab[at++] = '{';
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
        at += (size_t)snprintf(vocab + at, cap - at, "\"\\u%04x\": %d, ", printable ? b : 256 + extra++, b);
    }
    at += (size_t)snprintf(vocab + at, cap - at, "\"ab\": 256}");
    return at;
}

static const char *bpe_path(fx *f)
{
    static char path[300];
    char file[340], vocab[256 * 16 + 64];
    snprintf(path, sizeof path, "%s/bpe", f->dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    bpe_vocab(vocab, sizeof vocab);
    snprintf(file, sizeof file, "%s/vocab.json", path);
    write_file(file, vocab);
    snprintf(file, sizeof file, "%s/merges.txt", path);
    write_file(file, "#version: 0.2\na b\n");
    return path;
}

static adj_bpe *bpe_of(fx *f)
{
    adj_bpe *b = NULL;
    ck_assert_int_eq(adj_bpe_load(bpe_path(f), &b, NULL), ADJ_OK);
    return b;
}

/* A small text file in the fixture's directory and its corpus (for the
 * text.h rows). */
static const char *text_path(fx *f)
{
    static char path[300];
    snprintf(path, sizeof path, "%s/words.txt", f->dir);
    write_file(path, "abc\nbca\ncab\nacb\n");
    return path;
}

static adj_corpus *corpus_of(fx *f)
{
    adj_corpus *c = NULL;
    ck_assert_int_eq(adj_corpus_text(text_path(f), 0.25, 1, &c, NULL), ADJ_OK);
    return c;
}

/* A registered op for the adj_custom rows (y = x), and a fresh name for
 * each adj_op_register call (the fixture forks, but not always). */
static void misuse_copy(int n, const adj_view *x, const adj_view *y, const void *attr, void *user)
{
    (void)n, (void)attr, (void)user;
    size_t k = 1;
    for (int d = 0; d < y->ndim; d++)
        k *= (size_t)y->shape[d];
    memcpy(y->data, x[0].data, k * (y->dtype == ADJ_F64 ? 8u : 4u));
}
static int misuse_op(void)
{
    static int op = -1;
    if (op < 0)
        op = adj_op_register(&(adj_op_def){.name = "misuse_copy", .arity = 1, .forward = misuse_copy},
                             NULL);
    return op;
}
static const char *misuse_op_name(void)
{
    static char name[32];
    static int k;
    snprintf(name, sizeof name, "misuse_op%d", k++);
    return name;
}

#define ROW(fn, word, args, how, gives, ...)                                                     \
    static void call_##fn(fx *f, const mut *m, out *o)                                          \
    {                                                                                            \
        (void)f;                                                                                 \
        (void)m;                                                                                 \
        (void)o;                                                                                 \
        __VA_ARGS__;                                                                             \
    }
#include "misuse_rows.h"
#undef ROW

#define ROW(fn, word, args, how, gives, ...) {#fn, word, args, how, gives, call_##fn},
static const row rows[] = {
#include "misuse_rows.h"
};
#undef ROW
#define NROWS ((int)(sizeof rows / sizeof rows[0]))

/* ---------------------------------------------------------- the cases */

static const int64_t shape_neg[4] = {-1, -1, -1, -1};
static const int64_t shape_zero[4] = {0, 0, 0, 0};
static const int64_t shape_huge[4] = {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX};

/* Fill the bad values of argument `arg` of kind `kind` into ms (returns how many). */
static int mutations(char kind, int arg, mut *ms)
{
    int n = 0;
#define ADD(field, value, label)                                                                 \
    do {                                                                                         \
        if (ms) {                                                                                \
            memset(&ms[n], 0, sizeof ms[n]);                                                     \
            ms[n].arg = arg;                                                                     \
            ms[n].field = value;                                                                 \
            snprintf(ms[n].what, sizeof ms[n].what, "%s", label);                                \
        }                                                                                        \
        n++;                                                                                     \
    } while (0)
    switch (kind) {
    case 'V': case 'v': case 'P': case 'p': ADD(null, 1, "NULL"); break;
    case 'c': ADD(i, 0, "0"); ADD(i, -1, "-1"); ADD(i, INT_MIN, "INT_MIN"); break;
    case 'Y':
        ADD(null, 1, "NULL");
        ADD(shape, shape_neg, "{-1,...}");
        ADD(shape, shape_zero, "{0,...}");
        ADD(shape, shape_huge, "{INT64_MAX,...}");
        break;
    case 'S': ADD(null, 1, "NULL"); ADD(str, "", "\"\""); break;
    case 'n':
        ADD(i, 0, "0"); ADD(i, -1, "-1"); ADD(i, INT_MAX, "INT_MAX"); ADD(i, INT_MIN, "INT_MIN");
        break;
    case 'e': ADD(i, -1, "-1"); ADD(i, 1000, "1000"); break;
    case 'l':
        ADD(i, 0, "0"); ADD(i, -1, "-1"); ADD(i, INT64_MAX, "INT64_MAX"); ADD(i, INT64_MIN, "INT64_MIN");
        break;
    case 'z': ADD(z, 0, "0"); ADD(z, SIZE_MAX, "SIZE_MAX"); ADD(z, SIZE_MAX / 2 + 1, "SIZE_MAX/2+1"); break;
    case 'k': ADD(z, 0, "0"); break;
    case 'd':
        ADD(d, 0.0, "0"); ADD(d, -1.0, "-1"); ADD(d, NAN, "NaN"); ADD(d, INFINITY, "+Inf");
        ADD(d, -INFINITY, "-Inf"); ADD(d, 1e308, "1e308");
        break;
    default: break;
    }
#undef ADD
    return n;
}

typedef struct sweep_case {
    int row;
    mut m;
} sweep_case;

static sweep_case *cases;
static int ncases;

static void build_cases(void)
{
    int n = 0;
    for (int pass = 0; pass < 2; pass++) {
        n = 0;
        for (int r = 0; r < NROWS; r++) {
            if (pass)
                cases[n] = (sweep_case){.row = r, .m = {.arg = -1, .what = "valid"}};
            n++;
            for (int k = 0; rows[r].args[k]; k++) {
                int c = mutations(rows[r].args[k], k, NULL);
                if (pass) {
                    mut ms[8];
                    mutations(rows[r].args[k], k, ms);
                    for (int j = 0; j < c; j++)
                        cases[n + j] = (sweep_case){.row = r, .m = ms[j]};
                }
                n += c;
            }
        }
        if (!pass) {
            cases = calloc((size_t)n, sizeof *cases);
            if (!cases)
                abort(); /* the test binary itself, before any case */
        }
    }
    ncases = n;
}

/* Does the row keep a channel for its message (a 'V' or 'v' argument)
 * other than the argument made bad in this case? */
static int channel(const row *r, const mut *m)
{
    for (int k = 0; r->args[k]; k++)
        if ((r->args[k] == 'V' || r->args[k] == 'v') && k != m->arg)
            return 1;
    return 0;
}

static void word_of(const row *r, char *w, size_t n)
{
    snprintf(w, n, "%s", r->word ? r->word : r->name);
    size_t len = strlen(w);
    if (!r->word && len > 3 && strcmp(w + len - 3, "_at") == 0)
        w[len - 3] = '\0';
}

static int failed(const row *r, const out *o, const fx *f)
{
    switch (r->how) {
    case 't': return adj_tape_status(f->t) != ADJ_OK || o->ptr == NULL;
    case 'T': case 's': case 'e': return o->st != ADJ_OK;
    case 'O': case 'o': return o->ptr == NULL;
    case 'q': return o->ret < 0;
    default: return 0;
    }
}

START_TEST(sweep)
{
    const sweep_case *c = &cases[_i];
    const row *r = &rows[c->row];
    const mut *m = &c->m;
    char kind = m->arg >= 0 ? r->args[m->arg] : 0;
    char word[64], tag[160];
    word_of(r, word, sizeof word);
    snprintf(tag, sizeof tag, "%s, argument %d = %s", r->name, m->arg, m->what);
    fx f;
    fx_init(&f);
    out o;
    memset(&o, 0, sizeof o);
    o.st = ADJ_OK;
    o.ret = 0;
    r->call(&f, m, &o);
    if (r->how == 't' || r->how == 'T')
        msg_tape(&o, f.t);
    int bad = failed(r, &o, &f);

    if (m->arg < 0) {
        ck_assert_msg(!bad, "%s: the valid call failed: %s", tag, o.msg);
    } else if (kind == 'p' || kind == 'v') {
        ck_assert_msg(!bad, "%s: NULL is allowed here, but the call failed: %s", tag, o.msg);
    } else if (m->null) {
        /* a NULL that the function cannot use */
        if (r->how == 'g' && r->gives) {
            if (strcmp(r->gives, "nan") == 0)
                ck_assert_msg(isnan(o.num), "%s: NaN expected, got %g", tag, o.num);
            else if (strcmp(r->gives, "null") == 0)
                ck_assert_msg(o.ptr == NULL, "%s: NULL expected", tag);
            else
                ck_assert_msg(o.num == strtod(r->gives, NULL), "%s: %s expected, got %g", tag,
                              r->gives, o.num);
        } else if (r->how != 'g' && r->how != '-') {
            ck_assert_msg(bad, "%s: accepted a NULL", tag);
            if (r->how == 'T' || r->how == 's' || r->how == 'e')
                ck_assert_msg(o.st == ADJ_EINVAL || o.st == ADJ_ETAPE, "%s: status %s", tag,
                              adj_status_string(o.st));
            if (r->how == 't' && channel(r, m))
                ck_assert_msg(adj_tape_status(f.t) == ADJ_EINVAL || adj_tape_status(f.t) == ADJ_ETAPE,
                              "%s: tape status %s", tag, adj_status_string(adj_tape_status(f.t)));
            if (channel(r, m))
                ck_assert_msg(strstr(o.msg, word) && strstr(o.msg, "NULL"),
                              "%s: the message should name %s and the NULL: \"%s\"", tag, word, o.msg);
        }
    } else if (bad && channel(r, m)) {
        /* a bad size or value may be refused; the refusal names the function
         * (readers of files name the file instead, as io.h says) */
        if (r->how == 'e')
            ck_assert_msg(o.msg[0], "%s: refused without a message", tag);
        else
            ck_assert_msg(strstr(o.msg, word), "%s: refused without naming %s: \"%s\"", tag, word,
                          o.msg);
    }
    fx_free(&f);
}
END_TEST

/* --------------------------------------------------- stale handles */

static int takes_var(const char *name);

/*
 * Every public function that takes an adj_var *, called as its row writes
 * it but with vars from before an adj_tape_reset: the fixture's and those
 * the call builds (H), from a first call.  After the reset the fixture's
 * vars are recorded again, then scalars up to the first call's node count,
 * so every old handle names a slot holding a live node (the fixture's
 * vars one of the same shape).  The call must fail cleanly: the
 * tape's status ADJ_ETAPE with a message naming the function and the
 * reset (an accessor may record nothing), a getter's value for NULL, a
 * returned status ADJ_ETAPE, and no leak.  A new function that reads its var without checking the handle
 * fails here.
 */
START_TEST(stale_handles)
{
    const row *r = &rows[_i];
    if (!takes_var(r->name))
        return;
    char word[64], tag[96];
    word_of(r, word, sizeof word);
    snprintf(tag, sizeof tag, "%s with a var from before a reset", r->name);
    fx f;
    fx_init(&f);
    fx old = f;
    size_t fixture = adj_tape_size(f.t);
    mut m = {.arg = -1};
    out o;
    memset(&o, 0, sizeof o);
    f.hold = 1;
    r->call(&f, &m, &o);
    ck_assert_msg(adj_tape_status(f.t) == ADJ_OK, "%s: the first call failed: %s", tag,
                  adj_tape_message(f.t));
    size_t before = adj_tape_size(f.t);
    adj_tape_reset(f.t);
    fx_vars(&f);
    ck_assert_uint_eq(adj_tape_size(f.t), fixture); /* the same slots */
    while (adj_tape_size(f.t) < before)
        adj_scalar(f.t, 0.0);
    f.a = old.a, f.b = old.b, f.v2 = old.v2, f.s = old.s, f.f32 = old.f32, f.m22 = old.m22;
    f.i2 = old.i2, f.i22 = old.i22;
    f.hold = 2;
    memset(&o, 0, sizeof o);
    r->call(&f, &m, &o);
    /* ops and backward record the error; accessors (and functions that
     * return a status) may instead only answer through their own channel */
    const char *msg = adj_tape_message(f.t);
    const int own = (r->how == 'g' && r->gives && strcmp(r->gives, "?") != 0) || r->how == 's' ||
                    r->how == 'e' || r->how == '-';
    if (!own || adj_tape_status(f.t) != ADJ_OK) {
        ck_assert_msg(adj_tape_status(f.t) == ADJ_ETAPE, "%s: tape status %s (%s)", tag,
                      adj_status_string(adj_tape_status(f.t)), msg);
        ck_assert_msg(strstr(msg, word) && strstr(msg, "before adj_tape_reset"),
                      "%s: the message should name %s and the reset: \"%s\"", tag, word, msg);
    }
    if (r->how == 'g' && r->gives && strcmp(r->gives, "?") != 0) {
        if (strcmp(r->gives, "nan") == 0)
            ck_assert_msg(isnan(o.num), "%s: NaN expected, got %g", tag, o.num);
        else if (strcmp(r->gives, "null") == 0)
            ck_assert_msg(o.ptr == NULL, "%s: NULL expected", tag);
        else
            ck_assert_msg(o.num == strtod(r->gives, NULL), "%s: %s expected, got %g", tag, r->gives,
                          o.num);
    }
    if (r->how == 'T' || r->how == 's' || r->how == 'e')
        ck_assert_msg(o.st == ADJ_ETAPE, "%s: status %s", tag, adj_status_string(o.st));
    fx_free(&f);
}
END_TEST

/* ------------------------------------------------ every function has a row */

static int has_row(const char *name)
{
    for (int r = 0; r < NROWS; r++)
        if (strcmp(rows[r].name, name) == 0)
            return 1;
    return 0;
}

/* The functions whose declaration takes an adj_var (filled by
 * check_header). */
static char var_takers[8192];

static int takes_var(const char *name);

/* The functions declared in one header: names adj_xxx followed by "(" or
 * ")(" outside comments and preprocessor lines (function-pointer types,
 * written (*adj_name)(, are not functions); those taking an adj_var join
 * var_takers. */
static int check_header(const char *path, char *missing, size_t size)
{
    FILE *fp = fopen(path, "r");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    static char text[1 << 18];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    /* blank out comments and preprocessor lines (with continuations) */
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '/' && text[i + 1] == '*') {
            char *e = strstr(text + i + 2, "*/");
            size_t end = e ? (size_t)(e - text) + 2 : n;
            for (; i < end; i++)
                if (text[i] != '\n')
                    text[i] = ' ';
            i--;
        } else if (text[i] == '/' && text[i + 1] == '/') {
            for (; i < n && text[i] != '\n'; i++)
                text[i] = ' ';
        } else if (text[i] == '#' && (i == 0 || text[i - 1] == '\n')) {
            for (; i < n && !(text[i] == '\n' && text[i - 1] != '\\'); i++)
                text[i] = ' ';
        }
    }
    int found = 0;
    for (char *q = text; (q = strstr(q, "adj_")) != NULL;) {
        if (q > text && (isalnum((unsigned char)q[-1]) || q[-1] == '_' ||
                         (q - text >= 2 && q[-1] == '*' && q[-2] == '('))) {
            q += 4;
            continue;
        }
        char name[96];
        size_t len = 0;
        while (len < sizeof name - 1 && (isalnum((unsigned char)q[len]) || q[len] == '_')) {
            name[len] = q[len];
            len++;
        }
        name[len] = '\0';
        const char *after = q + len;
        if (*after == ')')
            after++;
        while (*after == ' ')
            after++;
        if (*after == '(') {
            found++;
            const char *close = strchr(after, ')');
            const char *var = strstr(after, "adj_var");
            if (close && var && var < close && !takes_var(name) &&
                strlen(var_takers) + len + 2 < sizeof var_takers) {
                strcat(var_takers, name);
                strcat(var_takers, " ");
            }
            if (!has_row(name) && strlen(missing) + len + 2 < size) {
                strcat(missing, " ");
                strcat(missing, name);
            }
        }
        q += len;
    }
    return found;
}

/* Scan every header of the core library (dist.h belongs to
 * libadjoint_dist): the number of declarations, the names without a row in
 * missing. */
static int scan_headers(char *missing, size_t size)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/include/adjoint", ADJ_SOURCE_ROOT);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    int found = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len < 3 || strcmp(e->d_name + len - 2, ".h") != 0 || strcmp(e->d_name, "dist.h") == 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        found += check_header(path, missing, size);
    }
    closedir(d);
    return found;
}

static int takes_var(const char *name)
{
    static int scanned;
    if (!scanned) {
        char missing[4096] = "";
        scanned = 1;
        scan_headers(missing, sizeof missing);
    }
    size_t len = strlen(name);
    for (const char *q = var_takers; (q = strstr(q, name)) != NULL; q += len)
        if ((q == var_takers || q[-1] == ' ') && q[len] == ' ')
            return 1;
    return 0;
}

START_TEST(every_function_has_a_row)
{
    char missing[4096] = "";
    int found = scan_headers(missing, sizeof missing);
    ck_assert_msg(found > 150, "only %d declarations found: the scanner is broken", found);
    ck_assert_msg(missing[0] == '\0', "public functions without a row:%s", missing);
}
END_TEST

/* Case counts by outcome class, for docs/reliability.md. */
START_TEST(case_count)
{
    int nul = 0, size = 0, valid = 0;
    for (int i = 0; i < ncases; i++) {
        char k = cases[i].m.arg >= 0 ? rows[cases[i].row].args[cases[i].m.arg] : 0;
        if (!k)
            valid++;
        else if (cases[i].m.null)
            nul++;
        else
            size++;
    }
    printf("misuse sweep: %d functions, %d cases: %d valid calls, %d NULL pointers, "
           "%d bad sizes, values and strings\n", NROWS, ncases, valid, nul, size);
    ck_assert_int_ge(NROWS, 200);
}
END_TEST

/* ------------------------------------- the defects, each tested directly */

/* A parameter put on a tape, then another tensor added to its store: the
 * first tensor's value and gradient blocks have moved.  Every path that
 * would read them reports it instead. */
static adj_params *grown_store(adj_tape *t, adj_var **w, int which)
{
    adj_params *p = adj_params_new(ADJ_F64);
    ck_assert_int_eq(adj_params_add(p, "w", 2, shape22), 0);
    double *v = adj_params_value(p, 0);
    for (int i = 0; i < 4; i++)
        v[i] = i + 1;
    *w = adj_param(t, p, 0);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    /* enough new elements that the blocks are reallocated (and the old freed) */
    ck_assert_int_eq(adj_params_add(p, which ? "big" : "late", 1, ((int64_t[]){4096})), 1);
    return p;
}

START_TEST(store_grew_under_backward)
{
    adj_tape *t = adj_tape_new();
    adj_var *w;
    adj_var *y = NULL;
    /* the sum is recorded before the add: backward would write into freed gradients */
    adj_params *p = adj_params_new(ADJ_F64);
    ck_assert_int_eq(adj_params_add(p, "w", 2, shape22), 0);
    w = adj_param(t, p, 0);
    y = adj_sum(adj_square(w));
    ck_assert_int_eq(adj_params_add(p, "late", 1, ((int64_t[]){4096})), 1);
    ck_assert_int_eq(adj_backward(y), ADJ_ESTATE);
    const char *msg = adj_tape_message(t);
    ck_assert_msg(strstr(msg, "adj_backward") && strstr(msg, "'w'") && strstr(msg, "adj_params_add") &&
                  strstr(msg, "holds 2"), "%s", msg);
    /* the error is sticky, a reset clears it */
    ck_assert_int_eq(adj_backward(y), ADJ_ESTATE);
    adj_tape_reset(t);
    w = adj_param(t, p, 0);
    ck_assert_int_eq(adj_backward(adj_sum(w)), ADJ_OK);
    ck_assert_double_eq(((double *)adj_params_grad(p, 0))[3], 1.0);
    adj_params_free(p);
    adj_tape_free(t);
}
END_TEST

START_TEST(store_grew_under_ops)
{
    for (int scalar = 0; scalar < 2; scalar++) {
        adj_tape *t = adj_tape_new();
        adj_var *w;
        adj_params *p;
        if (scalar) {
            p = adj_params_new(ADJ_F64);
            ck_assert_int_eq(adj_params_add(p, "s", 0, NULL), 0);
            w = adj_param(t, p, 0);
            ck_assert_int_eq(adj_params_add(p, "late", 1, ((int64_t[]){4096})), 1);
        } else {
            p = grown_store(t, &w, 0);
        }
        adj_var *y = adj_mul(w, w); /* 0-D f64 takes the scalar fast path */
        ck_assert_int_eq(adj_tape_status(t), ADJ_ESTATE);
        const char *msg = adj_tape_message(t);
        ck_assert_msg(strstr(msg, "adj_mul") && strstr(msg, "adj_params_add") && strstr(msg, "test_misuse.c"),
                      "%s", msg);
        ck_assert(isnan(adj_item(y)) || adj_numel(y) != 1);
        /* the accessors of the moved parameter read nothing */
        ck_assert(isnan(adj_value_at(w, 0)));
        ck_assert(isnan(adj_grad_at(w, 0)));
        ck_assert_ptr_null(adj_data(w));
        ck_assert_ptr_null(adj_grad_data(w));
        double vals[4];
        ck_assert_int_eq(adj_copy_value(w, vals), ADJ_ESTATE);
        ck_assert_int_eq(adj_copy_grad(w, vals), ADJ_ESTATE);
        /* printing the tape reads every value: refused */
        FILE *sink = fopen("/dev/null", "w");
        ck_assert_int_eq(adj_tape_print(t, sink), ADJ_ESTATE);
        ck_assert_int_eq(adj_tape_dot(t, sink), ADJ_ESTATE);
        ck_assert_int_eq(adj_tape_json(t, 1, sink), ADJ_ESTATE);
        ck_assert_int_eq(adj_tape_html(t, adj_sum(w), sink), ADJ_ESTATE);
        fclose(sink);
        adj_params_free(p);
        adj_tape_free(t);
    }
}
END_TEST

START_TEST(store_grew_under_jvp)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_tensor_f64(t, 2, shape22, ((double[]){1, 2, 3, 4}));
    adj_params *p = adj_params_new(ADJ_F64);
    ck_assert_int_eq(adj_params_add(p, "w", 2, shape22), 0);
    adj_var *w = adj_param(t, p, 0);
    adj_var *y = adj_sum(adj_mul(x, w));
    ck_assert_int_eq(adj_params_add(p, "late", 1, ((int64_t[]){4096})), 1);
    double one[4] = {1, 1, 1, 1}, res;
    const double *dir = one;
    ck_assert_int_eq(adj_jvp(y, 1, &x, &dir, &res), ADJ_ESTATE);
    ck_assert_msg(strstr(adj_tape_message(t), "adj_jvp"), "%s", adj_tape_message(t));
    adj_params_free(p);
    adj_tape_free(t);
}
END_TEST

/* A store that grew after adj_param but whose parameter is used only
 * after a reset is fine: the check is about what the tape holds. */
START_TEST(store_grew_before_reset_is_fine)
{
    adj_tape *t = adj_tape_new();
    adj_var *w;
    adj_params *p = grown_store(t, &w, 1);
    adj_tape_reset(t);
    adj_var *y = adj_sum(adj_param(t, p, 0));
    ck_assert_int_eq(adj_backward(y), ADJ_OK);
    ck_assert_double_eq(adj_item(y), 10.0);
    adj_params_free(p);
    adj_tape_free(t);
}
END_TEST

/* The optimizer keeps what it needs to free itself: freeing the store
 * first is fine (the counting allocator sees every byte returned). */
START_TEST(optim_free_after_store)
{
    for (int k = 0; k < ADJ_OPTIM_COUNT; k++) {
        test_alloc cnt;
        adj_allocator al = test_alloc_init(&cnt);
        adj_params *p = adj_params_new_with(k % 2 ? ADJ_F32 : ADJ_F64, &al);
        ck_assert_int_eq(adj_params_add(p, "w", 2, shape22), 0);
        adj_optim_config c = adj_optim_defaults((adj_optim_kind)k);
        c.momentum = k == ADJ_OPTIM_SGD ? 0.9 : c.momentum;
        adj_optim *o = adj_optim_new_with(p, &c, &al, NULL);
        ck_assert_ptr_nonnull(o);
        ck_assert_int_eq(adj_optim_step(o), ADJ_OK);
        adj_params_free(p);
        adj_optim_free(o);
        ck_assert_msg(cnt.live == 0, "%s: %zu bytes leaked", adj_optim_name((adj_optim_kind)k), cnt.live);
    }
}
END_TEST

START_TEST(null_arguments)
{
    adj_tape *t = adj_tape_new();
    adj_var *x = adj_scalar(t, 1.0);
    char buf[16] = "unchanged";
    adj_shape_string(x, NULL, 16);
    adj_shape_string(x, buf, 0);
    ck_assert_str_eq(buf, "unchanged");
    adj_shape_string(x, buf, sizeof buf);
    ck_assert_str_eq(buf, "()");
    adj_shape_string(NULL, buf, sizeof buf);
    ck_assert_str_eq(buf, "(null)");
    adj_shape_string(adj_tensor_f64(t, 2, ((int64_t[]){123456, 0}), NULL), buf, 6);
    ck_assert_str_eq(buf, "(1234"); /* cut to the buffer, terminated */

    ck_assert_uint_eq(adj_rng_next(NULL), 0);
    ck_assert(isnan(adj_rng_uniform(NULL)));
    ck_assert(isnan(adj_rng_uniform_range(NULL, 0, 1)));
    ck_assert(isnan(adj_rng_normal(NULL)));
    ck_assert_uint_eq(adj_rng_below(NULL, 10), 0);
    size_t idx[3] = {0, 1, 2};
    adj_rng_shuffle(NULL, idx, 3);
    ck_assert(idx[0] == 0 && idx[1] == 1 && idx[2] == 2);
    adj_rng r;
    adj_rng_seed(&r, 1);
    adj_rng copy = r;
    adj_rng_shuffle(&r, NULL, 3);
    ck_assert_mem_eq(&r, &copy, sizeof r); /* no draw */

    /* reshape to 0-D with no shape array: valid (one element) */
    adj_var *y = adj_reshape(adj_tensor_f64(t, 1, ((int64_t[]){1}), ((double[]){3})), 0, NULL);
    ck_assert_int_eq(adj_tape_status(t), ADJ_OK);
    ck_assert_int_eq(adj_ndim(y), 0);
    ck_assert_double_eq(adj_item(y), 3.0);
    adj_tape_free(t);
}
END_TEST

static Suite *suite(void)
{
    build_cases();
    if (getenv("MISUSE_LIST")) /* the case behind each loop index, for debugging */
        for (int i = 0; i < ncases; i++)
            printf("%d %s argument %d = %s\n", i, rows[cases[i].row].name, cases[i].m.arg, cases[i].m.what);
    Suite *s = suite_create("misuse");
    TCase *tc = tcase_create("sweep");
    tcase_add_loop_test(tc, sweep, 0, ncases);
    tcase_add_test(tc, every_function_has_a_row);
    tcase_add_test(tc, case_count);
    suite_add_tcase(s, tc);
    TCase *st = tcase_create("stale");
    tcase_add_loop_test(st, stale_handles, 0, NROWS);
    suite_add_tcase(s, st);
    TCase *d = tcase_create("defects");
    tcase_add_test(d, store_grew_under_backward);
    tcase_add_test(d, store_grew_under_ops);
    tcase_add_test(d, store_grew_under_jvp);
    tcase_add_test(d, store_grew_before_reset_is_fine);
    tcase_add_test(d, optim_free_after_store);
    tcase_add_test(d, null_arguments);
    suite_add_tcase(s, d);
    return s;
}

ADJ_CHECK_MAIN(suite)
