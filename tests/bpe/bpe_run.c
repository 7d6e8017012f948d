/*
 * The C side of tests/bpe/bpe_ref.py:
 *
 *     bpe_run DIR FILE
 *
 * loads the tokenizer in DIR (vocab.json, merges.txt), encodes FILE's
 * bytes and prints the ids on one line, space separated, and on a second
 * line the byte lengths of the pre-tokenizer's pieces; exit 1 if
 * decoding them does not give FILE's bytes back, or on any error.
 */
#include <adjoint.h>

#include "io/bpe_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bpe_run DIR FILE\n");
        return 1;
    }
    adj_error err;
    adj_bpe *b = NULL;
    if (adj_bpe_load(argv[1], &b, &err) != ADJ_OK) {
        fprintf(stderr, "bpe_run: %s\n", err.message);
        return 1;
    }
    FILE *fp = fopen(argv[2], "rb");
    if (!fp) {
        fprintf(stderr, "bpe_run: cannot open %s\n", argv[2]);
        adj_bpe_free(b);
        return 1;
    }
    size_t cap = 1 << 20;
    char *text = malloc(cap);
    size_t len = text ? fread(text, 1, cap, fp) : 0;
    fclose(fp);
    int32_t *ids = NULL;
    size_t n = 0;
    char *back = NULL;
    size_t blen = 0;
    int rc = 1;
    if (adj_bpe_encode(b, text, len, &ids, &n, &err) != ADJ_OK ||
        adj_bpe_decode(b, ids, n, &back, &blen, &err) != ADJ_OK) {
        fprintf(stderr, "bpe_run: %s\n", err.message);
    } else if (blen != len || memcmp(back, text, len) != 0) {
        fprintf(stderr, "bpe_run: decoding does not give the text back\n");
    } else {
        for (size_t i = 0; i < n; i++)
            printf("%s%d", i ? " " : "", (int)ids[i]);
        printf("\n");
        for (size_t i = 0; i < len;) {
            size_t e = adj_bpe_piece_end((const unsigned char *)text, len, i);
            printf("%s%zu", i ? " " : "", e - i);
            i = e;
        }
        printf("\n");
        rc = 0;
    }
    free(ids);
    free(back);
    free(text);
    adj_bpe_free(b);
    return rc;
}
