/*
 * libFuzzer target: the GPT-2 tokenizer's files (adj_bpe_parse).  The
 * input is vocab.json, a NUL byte, then merges.txt (no NUL: merges.txt
 * empty).  A refusal must come with a message and no tokenizer; an
 * accepted pair must encode the input's bytes (all of them, NULs
 * included) to ids that decode to the same bytes.
 */
#include <adjoint.h>

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t nv = nul ? (size_t)(nul - data) : size;
    const char *merges = nul ? (const char *)nul + 1 : "";
    size_t nm = nul ? size - nv - 1 : 0;
    adj_bpe *b = NULL;
    adj_error err;
    adj_status s = adj_bpe_parse((const char *)data, nv, merges, nm, &b, &err);
    if (s != ADJ_OK) {
        if (b || err.status != s || !err.message[0])
            abort();
        return 0;
    }
    int32_t *ids = NULL;
    size_t n = 0, len = 0;
    char *back = NULL;
    if (adj_bpe_encode(b, (const char *)data, size, &ids, &n, &err) != ADJ_OK ||
        adj_bpe_decode(b, ids, n, &back, &len, &err) != ADJ_OK || len != size ||
        (size && memcmp(back, data, size) != 0) || n > size)
        abort();
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= adj_bpe_vocab_size(b))
            abort();
    free(ids);
    free(back);
    adj_bpe_free(b);
    return 0;
}
