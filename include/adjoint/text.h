/*
 * adjoint/text.h — corpora for language models: a text file read as
 * bytes (the vocabulary is the bytes that occur), or a file of
 * little-endian uint16 token ids (nanoGPT's train.bin), split into a
 * training and a validation part, and batches of (B, T) windows.
 */
#ifndef ADJOINT_TEXT_H
#define ADJOINT_TEXT_H

#include "core.h"
#include "rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest corpus file read: 1 GiB. */
#define ADJ_CORPUS_MAX_BYTES ((size_t)1 << 30)

typedef struct adj_corpus {
    size_t n_train, n_val;
    int32_t *train, *val;      /* token ids in [0, vocab) */
    int vocab;
    int nchars;                /* text: vocab bytes, chars[id]; token files: 0 */
    unsigned char chars[256];
} adj_corpus;

/* A text file, byte-level.  A file of several lines is split by lines: a
 * seeded shuffle of the lines puts round(val_frac * lines) of them (at
 * least one) in the validation part, each part keeps its lines' bytes
 * with their newlines, in file order.  A file of one line is split by
 * position (the last val_frac of it).  val_frac in [0, 1).  ADJ_EFORMAT
 * for an empty file or one over ADJ_CORPUS_MAX_BYTES, ADJ_EIO when it
 * cannot be read; *out owned by the caller (adj_corpus_free). */
ADJ_API adj_status adj_corpus_text(const char *path, double val_frac, uint64_t seed,
                                   adj_corpus **out, adj_error *err);
/* A file of little-endian uint16 ids; vocab = 1 + the largest id; the
 * last val_frac of the ids is the validation part.  ADJ_EFORMAT for an
 * odd length or an empty file. */
ADJ_API adj_status adj_corpus_tokens(const char *path, double val_frac, adj_corpus **out,
                                     adj_error *err);
ADJ_API void adj_corpus_free(adj_corpus *c);
/* Text -> ids (bytes outside the vocabulary are ADJ_EINVAL naming the
 * byte and its position); ids has room for len entries. */
ADJ_API adj_status adj_corpus_encode(const adj_corpus *c, const char *text, size_t len,
                                     int32_t *ids, adj_error *err);
/* `batch` windows of T + 1 consecutive ids of the training (split 0) or
 * validation (1) part at starts drawn from rng: x[b*T + t] = w[t],
 * y[b*T + t] = w[t + 1].  ADJ_EINVAL when the part has fewer than T + 1
 * ids, for batch or T of 0, NULL arguments. */
ADJ_API adj_status adj_corpus_batch(const adj_corpus *c, int split, size_t batch, size_t T,
                                    adj_rng *rng, int32_t *x, int32_t *y, adj_error *err);

#ifdef __cplusplus
}
#endif
#endif
