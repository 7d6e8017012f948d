/*
 * GPT-2's pre-tokenizer (src/io/bpe_pre.c) for the BPE tokenizer
 * (include/adjoint/bpe.h, src/io/bpe.c).
 */
#ifndef ADJ_IO_BPE_INTERNAL_H
#define ADJ_IO_BPE_INTERNAL_H

#include <stddef.h>

/* The end of the pre-tokenizer's piece of s[0..len) that starts at i
 * (i < len); the result is > i. */
size_t adj_bpe_piece_end(const unsigned char *s, size_t len, size_t i);

#endif
