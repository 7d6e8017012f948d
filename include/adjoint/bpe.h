/*
 * adjoint/bpe.h — GPT-2's byte-level BPE tokenizer.
 *
 * A tokenizer is read from a Hugging Face GPT-2 directory's vocab.json
 * (token -> id; a token is a byte string written with GPT-2's
 * byte-to-unicode map, which gives each of the 256 bytes a printable code
 * point) and merges.txt (one merge "A B" a line, in rank order; a first
 * line "#version: ..." is skipped).
 *
 * Encoding splits the text with GPT-2's pre-tokenizer pattern
 *
 *     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *
 * where \p{L} is Unicode's letters (categories Lu, Ll, Lt, Lm, Lo), \p{N}
 * its numbers (Nd, Nl, No) and \s the White_Space property (U+0009-000D,
 * U+0020, U+0085, U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F,
 * U+205F, U+3000); bytes that are not valid UTF-8 count as "other" (one
 * each).  Each piece starts as its bytes' tokens, and the adjacent pair
 * of lowest merge rank is merged, everywhere in the piece, until no pair
 * has a rank.  Decoding concatenates the tokens' bytes.
 *
 *     adj_bpe *tok;
 *     adj_bpe_load("gpt2", &tok, &err);
 *     adj_bpe_encode(tok, "Hello world", 11, &ids, &n, &err);   // 15496, 995
 */
#ifndef ADJOINT_BPE_H
#define ADJOINT_BPE_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct adj_bpe adj_bpe;

/* Read DIR/vocab.json and DIR/merges.txt (each at most 64 MiB).  *out is
 * owned by the caller (adj_bpe_free).  ADJ_EINVAL for a NULL or empty dir
 * or NULL out; ADJ_EIO for a file that cannot be read; ADJ_EFORMAT naming
 * the file, and the line or token, for JSON that is not an object of
 * tokens to ids in [0, 2^24), a token that is not made of the map's code
 * points, an id given twice, a merge line that is not two tokens, whose
 * parts or result are not in the vocabulary, or that repeats a pair, or a
 * byte without a token of its own. */
ADJ_API adj_status adj_bpe_load(const char *dir, adj_bpe **out, adj_error *err);
/* The same from the files' bytes in memory (vocab_json and merges need
 * not be NUL-terminated). */
ADJ_API adj_status adj_bpe_parse(const char *vocab_json, size_t vocab_len, const char *merges,
                                 size_t merges_len, adj_bpe **out, adj_error *err);
ADJ_API void adj_bpe_free(adj_bpe *b);

/* The largest id + 1 (0 for NULL) and the number of merges. */
ADJ_API int adj_bpe_vocab_size(const adj_bpe *b);
ADJ_API int adj_bpe_merge_count(const adj_bpe *b);
/* Token id's bytes (not NUL-terminated) and their count in *len; NULL for
 * an id without a token. */
ADJ_API const char *adj_bpe_token(const adj_bpe *b, int32_t id, size_t *len);

/* The id of the token whose bytes are s[0..len) (not split or merged:
 * "<|endoftext|>" gives GPT-2's 50256), or -1. */
ADJ_API int32_t adj_bpe_find(const adj_bpe *b, const char *s, size_t len);

/* Encode len bytes of text (any bytes): *ids from malloc (the caller
 * frees it; NULL when *n is 0), *n ids.  ADJ_EINVAL for NULL arguments
 * (text may be NULL when len is 0), ADJ_ENOMEM. */
ADJ_API adj_status adj_bpe_encode(const adj_bpe *b, const char *text, size_t len, int32_t **ids,
                                  size_t *n, adj_error *err);
/* Decode n ids into *text from malloc (NUL-terminated, *len bytes before
 * the NUL; the caller frees it).  ADJ_EINVAL naming the position for an
 * id without a token, or NULL arguments. */
ADJ_API adj_status adj_bpe_decode(const adj_bpe *b, const int32_t *ids, size_t n, char **text,
                                  size_t *len, adj_error *err);

#ifdef __cplusplus
}
#endif
#endif
