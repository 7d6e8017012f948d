/*
 * A checkpoint's state file (include/adjoint/train.h): the optimizer's
 * state and where the run stands (epochs, steps, the batches of an
 * unfinished epoch, the generators), written beside the model so that a
 * resumed run continues with the same bits.
 */
#include "nn/trainer_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

adj_status adj_train_state_path(const char *path, char *out, size_t size)
{
    if (!out || size == 0)
        return ADJ_EINVAL;
    out[0] = '\0';
    if (!path || !*path)
        return ADJ_EINVAL;
    static const char ext[] = ".safetensors", add[] = ".optim.safetensors";
    size_t n = strlen(path), e = sizeof ext - 1;
    size_t keep = n >= e && strcmp(path + n - e, ext) == 0 ? n - e : n;
    if (keep + sizeof add > size)
        return ADJ_EINVAL;
    memcpy(out, path, keep);
    memcpy(out + keep, add, sizeof add);
    return ADJ_OK;
}

/* A generator as six hex words: the four state words, has_spare and
 * the bits of spare. */
static void rng_text(const adj_rng *g, char *buf, size_t size)
{
    uint64_t spare;
    memcpy(&spare, &g->spare, sizeof spare);
    snprintf(buf, size, "%016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %d %016" PRIx64,
             g->s[0], g->s[1], g->s[2], g->s[3], g->has_spare ? 1 : 0, spare);
}

static int rng_parse(const char *text, adj_rng *g)
{
    uint64_t w[6];
    const char *p = text;
    for (int i = 0; i < 6; i++) {
        char *end = NULL;
        errno = 0;
        w[i] = strtoull(p, &end, 16);
        if (errno || end == p)
            return -1;
        p = end;
    }
    if (*p || (w[0] | w[1] | w[2] | w[3]) == 0 || w[4] > 1)
        return -1;
    memcpy(g->s, w, sizeof g->s);
    g->has_spare = (int)w[4];
    memcpy(&g->spare, &w[5], sizeof g->spare);
    return 0;
}

static adj_status meta_i64(adj_st_writer *w, const char *key, int64_t v, adj_error *err)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return adj_st_writer_meta(w, key, buf, err);
}

adj_status adj_trainer_state_write(const char *checkpoint, const adj_optim *o, adj_model *m,
                                   const adj_trainer_pos *pos, adj_error *err)
{
    char path[4096], g[160];
    if (adj_train_state_path(checkpoint, path, sizeof path) != ADJ_OK)
        return adj_err_set(err, ADJ_EINVAL, "adj_train: the checkpoint path is too long");
    adj_st_writer *w = adj_st_writer_new();
    if (!w)
        return adj_err_set(err, ADJ_ENOMEM, "adj_train: out of memory");
    adj_status s = adj_optim_state_write(o, w, err);
    if (s == ADJ_OK)
        s = meta_i64(w, "train.epoch", pos->epoch, err);
    if (s == ADJ_OK)
        s = meta_i64(w, "train.step", pos->step, err);
    if (s == ADJ_OK)
        s = meta_i64(w, "train.batches", pos->batches, err);
    if (s == ADJ_OK) {
        snprintf(g, sizeof g, "%" PRIu64, pos->seed);
        s = adj_st_writer_meta(w, "train.seed", g, err);
    }
    if (s == ADJ_OK && pos->lm) {
        rng_text(&pos->windows, g, sizeof g);
        s = adj_st_writer_meta(w, "train.windows", g, err);
    }
    if (s == ADJ_OK) {
        rng_text(adj_model_dropout_rng(m), g, sizeof g);
        s = adj_st_writer_meta(w, "train.dropout", g, err);
    }
    if (s == ADJ_OK)
        s = adj_st_writer_save(w, path, err);
    adj_st_writer_free(w);
    return s;
}

/* A count from metadata entry key of f; -1 when missing or malformed. */
static int64_t meta_count(const adj_safetensors *f, const char *key)
{
    const char *v = adj_st_meta(f, key);
    if (!v || !*v)
        return -1;
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    return errno || *end || x < 0 ? -1 : (int64_t)x;
}

adj_status adj_trainer_state_read(const char *checkpoint, adj_optim *o, adj_model *m,
                                  adj_trainer_pos *pos, int *found, adj_error *err)
{
    char path[4096];
    *found = 0;
    if (adj_train_state_path(checkpoint, path, sizeof path) != ADJ_OK)
        return adj_err_set(err, ADJ_EINVAL, "adj_train: resume: the checkpoint path is too long");
    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOENT)
        return ADJ_OK; /* a checkpoint without state: the moments start anew */
    adj_safetensors *f = NULL;
    adj_status s = adj_st_read(path, &f, err);
    if (s != ADJ_OK)
        return s;
    adj_trainer_pos q = *pos;
    int64_t epoch = meta_count(f, "train.epoch"), step = meta_count(f, "train.step"),
            batches = meta_count(f, "train.batches");
    const char *seed = adj_st_meta(f, "train.seed"), *win = adj_st_meta(f, "train.windows"),
               *drop = adj_st_meta(f, "train.dropout");
    char want[32];
    snprintf(want, sizeof want, "%" PRIu64, pos->seed);
    adj_rng dr;
    if (epoch < 0 || step < 0 || batches < 0 || !seed || !drop || (pos->lm && !win) ||
        rng_parse(drop, &dr) || (pos->lm && rng_parse(win, &q.windows)))
        s = adj_err_set(err, ADJ_EFORMAT,
                        "adj_train: resume: %s lacks a valid train.epoch, train.step, "
                        "train.batches, train.seed, train.dropout%s entry",
                        path, pos->lm ? " or train.windows" : "");
    else if (strcmp(seed, want) != 0)
        s = adj_err_set(err, ADJ_EINVAL,
                        "adj_train: resume: %s was trained with seed %s, the configuration has "
                        "seed %s (the shuffles would differ)",
                        path, seed, want);
    else if (step != meta_count(f, "optim.steps"))
        s = adj_err_set(err, ADJ_EFORMAT,
                        "adj_train: resume: %s: train.step %lld differs from optim.steps", path,
                        (long long)step);
    if (s == ADJ_OK)
        s = adj_optim_state_read(o, f, path, err);
    adj_st_free(f);
    if (s != ADJ_OK)
        return s;
    q.epoch = epoch;
    q.step = step;
    q.batches = batches;
    *pos = q;
    *adj_model_dropout_rng(m) = dr;
    *found = 1;
    return ADJ_OK;
}
