/*
 * GPT-2's byte-level BPE tokenizer (include/adjoint/bpe.h): vocab.json
 * parsed with cJSON, tokens kept as byte strings (GPT-2's byte-to-unicode
 * map undone), a hash of tokens to ids and one of id pairs to their merge
 * rank and result; encoding merges the lowest-ranked adjacent pair of a
 * piece until none is left (a heap of ranked pairs over a linked list of
 * the piece's ids: O(n log n) in the piece's length n).
 */
#include "adjoint/bpe.h"
#include "core/error.h"
#include "io/bpe_internal.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE ((size_t)64 << 20)
#define MAX_ID (1 << 24)

struct adj_bpe {
    int nid;                  /* largest id + 1 */
    size_t *off;              /* token id's bytes: bytes[off[id] .. off[id] + len[id]) */
    uint32_t *len;            /* UINT32_MAX: no token */
    unsigned char *bytes;
    size_t nbytes;
    int32_t *slot;            /* token hash: ids, -1 empty */
    size_t nslot;             /* a power of 2 */
    uint64_t *pkey;           /* pair hash: (a << 32 | b) + 1, 0 empty */
    int32_t *prank, *pres;    /* its rank and result id */
    size_t npslot;
    int nmerge;
    int32_t byte_id[256];
};

/* ------------------------------------------------- GPT-2's byte map */

/* unicode_of[b]: the code point GPT-2 writes byte b as: the printable
 * bytes '!'..'~', 0xa1..0xac and 0xae..0xff stand for themselves, the
 * others in byte order for 256, 257, ... */
static void byte_map(uint32_t unicode_of[256], int16_t byte_of[324])
{
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
        unicode_of[b] = printable ? (uint32_t)b : (uint32_t)(256 + n++);
    }
    for (int c = 0; c < 324; c++)
        byte_of[c] = -1;
    for (int b = 0; b < 256; b++)
        byte_of[unicode_of[b]] = (int16_t)b;
}

/* A token written with the map (UTF-8, n bytes) as bytes into out (at
 * most n bytes); -1 if it holds a code point outside the map. */
static long unmap(const char *s, size_t n, const int16_t byte_of[324], unsigned char *out)
{
    long k = 0;
    for (size_t i = 0; i < n;) {
        unsigned c = (unsigned char)s[i];
        uint32_t cp;
        if (c < 0x80) {
            cp = c;
            i++;
        } else if ((c & 0xe0) == 0xc0 && i + 1 < n && ((unsigned char)s[i + 1] & 0xc0) == 0x80) {
            cp = (c & 0x1fu) << 6 | ((unsigned char)s[i + 1] & 0x3fu);
            i += 2;
        } else {
            return -1; /* every code point of the map is below U+0800 */
        }
        if (cp >= 324 || byte_of[cp] < 0)
            return -1;
        out[k++] = (unsigned char)byte_of[cp];
    }
    return k;
}

/* --------------------------------------------------------- hashes */

static uint64_t hash_bytes(const unsigned char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

static int32_t find_token(const adj_bpe *b, const unsigned char *s, size_t n)
{
    for (size_t i = hash_bytes(s, n) & (b->nslot - 1);; i = (i + 1) & (b->nslot - 1)) {
        int32_t id = b->slot[i];
        if (id < 0)
            return -1;
        if (b->len[id] == n && memcmp(b->bytes + b->off[id], s, n) == 0)
            return id;
    }
}

static size_t pair_slot(const adj_bpe *b, uint64_t key)
{
    size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & (b->npslot - 1);
    while (b->pkey[i] && b->pkey[i] != key)
        i = (i + 1) & (b->npslot - 1);
    return i;
}

static uint64_t pair_key(int32_t a, int32_t c) { return ((uint64_t)(uint32_t)a << 32 | (uint32_t)c) + 1; }

static size_t pow2_above(size_t n)
{
    size_t p = 16;
    while (p < 2 * n)
        p *= 2;
    return p;
}

void adj_bpe_free(adj_bpe *b)
{
    if (!b)
        return;
    free(b->off);
    free(b->len);
    free(b->bytes);
    free(b->slot);
    free(b->pkey);
    free(b->prank);
    free(b->pres);
    free(b);
}

/* ---------------------------------------------------------- parsing */

static adj_status parse_vocab(adj_bpe *b, const char *json, size_t n, const int16_t byte_of[324],
                              adj_error *err)
{
    cJSON *root = cJSON_ParseWithLength(json, n);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return adj_err_set(err, ADJ_EFORMAT, "vocab.json: not a JSON object");
    }
    adj_status s = ADJ_OK;
    size_t count = 0, total = 0;
    int maxid = -1;
    for (cJSON *it = root->child; it && s == ADJ_OK; it = it->next) {
        double v = cJSON_IsNumber(it) ? it->valuedouble : -1;
        if (!(v >= 0 && v < MAX_ID) || v != (double)(int)v)
            s = adj_err_set(err, ADJ_EFORMAT, "vocab.json: token \"%.64s\" has no id in [0, %d)", it->string,
                            MAX_ID);
        else if ((int)v > maxid)
            maxid = (int)v;
        count++;
        total += strlen(it->string);
    }
    if (s == ADJ_OK && count == 0)
        s = adj_err_set(err, ADJ_EFORMAT, "vocab.json: no tokens");
    if (s == ADJ_OK) {
        b->nid = maxid + 1;
        b->off = calloc((size_t)b->nid, sizeof *b->off);
        b->len = malloc((size_t)b->nid * sizeof *b->len);
        b->bytes = malloc(total + 1);
        b->nslot = pow2_above(count);
        b->slot = malloc(b->nslot * sizeof *b->slot);
        if (!b->off || !b->len || !b->bytes || !b->slot)
            s = adj_err_set(err, ADJ_ENOMEM, "vocab.json: out of memory for %zu tokens", count);
    }
    if (s == ADJ_OK) {
        memset(b->len, 0xff, (size_t)b->nid * sizeof *b->len);
        memset(b->slot, 0xff, b->nslot * sizeof *b->slot);
    }
    for (cJSON *it = root->child; it && s == ADJ_OK; it = it->next) {
        int id = (int)it->valuedouble;
        long k = unmap(it->string, strlen(it->string), byte_of, b->bytes + b->nbytes);
        if (k <= 0)
            s = adj_err_set(err, ADJ_EFORMAT, "vocab.json: token \"%.64s\" is %s", it->string,
                            k == 0 ? "empty" : "not written with GPT-2's byte map");
        else if (b->len[id] != UINT32_MAX)
            s = adj_err_set(err, ADJ_EFORMAT, "vocab.json: id %d is given twice", id);
        else if (find_token(b, b->bytes + b->nbytes, (size_t)k) >= 0)
            s = adj_err_set(err, ADJ_EFORMAT, "vocab.json: token \"%.64s\" is given twice", it->string);
        if (s != ADJ_OK)
            break;
        b->off[id] = b->nbytes;
        b->len[id] = (uint32_t)k;
        b->nbytes += (size_t)k;
        size_t i = hash_bytes(b->bytes + b->off[id], (size_t)k) & (b->nslot - 1);
        while (b->slot[i] >= 0)
            i = (i + 1) & (b->nslot - 1);
        b->slot[i] = id;
    }
    cJSON_Delete(root);
    for (int c = 0; s == ADJ_OK && c < 256; c++) {
        unsigned char byte = (unsigned char)c;
        if ((b->byte_id[c] = find_token(b, &byte, 1)) < 0)
            s = adj_err_set(err, ADJ_EFORMAT, "vocab.json: byte 0x%02x has no token", c);
    }
    return s;
}

static adj_status parse_merges(adj_bpe *b, const char *text, size_t n, const int16_t byte_of[324],
                               adj_error *err)
{
    size_t lines = 1;
    for (size_t i = 0; i < n; i++)
        lines += text[i] == '\n';
    b->npslot = pow2_above(lines);
    b->pkey = calloc(b->npslot, sizeof *b->pkey);
    b->prank = malloc(b->npslot * sizeof *b->prank);
    b->pres = malloc(b->npslot * sizeof *b->pres);
    unsigned char *buf = malloc(n + 1);
    adj_status s = b->pkey && b->prank && b->pres && buf
                       ? ADJ_OK : adj_err_set(err, ADJ_ENOMEM, "merges.txt: out of memory for %zu lines", lines);
    size_t line = 0;
    for (size_t at = 0; s == ADJ_OK && at < n;) {
        const char *ln = text + at, *nl = memchr(ln, '\n', n - at);
        size_t len = nl ? (size_t)(nl - ln) : n - at;
        at += len + 1;
        line++;
        if (len && ln[len - 1] == '\r')
            len--;
        if (len == 0 || (line == 1 && len >= 9 && memcmp(ln, "#version:", 9) == 0))
            continue;
        const char *sp = memchr(ln, ' ', len);
        if (!sp || sp == ln || sp == ln + len - 1 || memchr(sp + 1, ' ', len - (size_t)(sp + 1 - ln))) {
            s = adj_err_set(err, ADJ_EFORMAT, "merges.txt: line %zu is not two tokens separated by a space", line);
            break;
        }
        long ka = unmap(ln, (size_t)(sp - ln), byte_of, buf);
        long kb = ka > 0 ? unmap(sp + 1, len - (size_t)(sp + 1 - ln), byte_of, buf + ka) : -1;
        int32_t a = ka > 0 ? find_token(b, buf, (size_t)ka) : -1;
        int32_t c = kb > 0 ? find_token(b, buf + ka, (size_t)kb) : -1;
        int32_t r = a >= 0 && c >= 0 ? find_token(b, buf, (size_t)(ka + kb)) : -1;
        if (r < 0) {
            s = adj_err_set(err, ADJ_EFORMAT, "merges.txt: line %zu: %s of \"%.*s\" is not in vocab.json", line,
                            a < 0 ? "the first token" : c < 0 ? "the second token" : "the merged token",
                            (int)(len > 64 ? 64 : len), ln);
            break;
        }
        uint64_t key = pair_key(a, c);
        size_t i = pair_slot(b, key);
        if (b->pkey[i]) {
            s = adj_err_set(err, ADJ_EFORMAT, "merges.txt: line %zu repeats the merge of rank %d", line,
                            (int)b->prank[i]);
            break;
        }
        b->pkey[i] = key;
        b->prank[i] = b->nmerge++;
        b->pres[i] = r;
    }
    free(buf);
    return s;
}

adj_status adj_bpe_parse(const char *vocab_json, size_t vocab_len, const char *merges, size_t merges_len,
                         adj_bpe **out, adj_error *err)
{
    if (!out || !vocab_json || (!merges && merges_len))
        return adj_err_set(err, ADJ_EINVAL, "adj_bpe_parse: NULL %s", !out ? "out" : !vocab_json ? "vocab_json" : "merges");
    *out = NULL;
    if (vocab_len > MAX_FILE || merges_len > MAX_FILE)
        return adj_err_set(err, ADJ_EFORMAT, "adj_bpe_parse: %s is larger than 64 MiB",
                           vocab_len > MAX_FILE ? "vocab.json" : "merges.txt");
    uint32_t unicode_of[256];
    int16_t byte_of[324];
    byte_map(unicode_of, byte_of);
    adj_bpe *b = calloc(1, sizeof *b);
    if (!b)
        return adj_err_set(err, ADJ_ENOMEM, "adj_bpe_parse: out of memory");
    adj_status s = parse_vocab(b, vocab_json, vocab_len, byte_of, err);
    if (s == ADJ_OK)
        s = parse_merges(b, merges ? merges : "", merges_len, byte_of, err);
    if (s != ADJ_OK) {
        adj_bpe_free(b);
        return s;
    }
    *out = b;
    adj_err_clear(err);
    return ADJ_OK;
}

/* The whole of DIR/NAME (at most MAX_FILE bytes) from malloc. */
static adj_status slurp(const char *dir, const char *name, char **out, size_t *n, adj_error *err)
{
    char path[4200];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return adj_err_set(err, ADJ_EINVAL, "adj_bpe_load: the directory name is too long");
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return adj_err_set(err, ADJ_EIO, "%s: cannot open", path);
    size_t cap = 1 << 16, len = 0;
    char *b = malloc(cap);
    adj_status s = ADJ_OK;
    while (b) {
        len += fread(b + len, 1, cap - len, fp);
        if (len < cap || cap > MAX_FILE)
            break;
        char *nb = realloc(b, cap * 2);
        if (!nb) {
            free(b);
            b = NULL;
            break;
        }
        b = nb;
        cap *= 2;
    }
    if (!b)
        s = adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", path);
    else if (ferror(fp))
        s = adj_err_set(err, ADJ_EIO, "%s: read error", path);
    else if (len > MAX_FILE)
        s = adj_err_set(err, ADJ_EFORMAT, "%s: larger than 64 MiB", path);
    fclose(fp);
    if (s != ADJ_OK) {
        free(b);
        return s;
    }
    *out = b;
    *n = len;
    return ADJ_OK;
}

adj_status adj_bpe_load(const char *dir, adj_bpe **out, adj_error *err)
{
    if (!out)
        return adj_err_set(err, ADJ_EINVAL, "adj_bpe_load: NULL out");
    *out = NULL;
    if (!dir || !*dir)
        return adj_err_set(err, ADJ_EINVAL, "adj_bpe_load: %s directory", dir ? "empty" : "NULL");
    char *v = NULL, *m = NULL;
    size_t nv = 0, nm = 0;
    adj_status s = slurp(dir, "vocab.json", &v, &nv, err);
    if (s == ADJ_OK)
        s = slurp(dir, "merges.txt", &m, &nm, err);
    if (s == ADJ_OK && (s = adj_bpe_parse(v, nv, m, nm, out, err)) != ADJ_OK) {
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err ? err->message : "");
        adj_err_set(err, s, "%s/%s", dir, why);
    }
    free(v);
    free(m);
    return s;
}

/* ---------------------------------------------------------- queries */

int adj_bpe_vocab_size(const adj_bpe *b) { return b ? b->nid : 0; }
int adj_bpe_merge_count(const adj_bpe *b) { return b ? b->nmerge : 0; }

const char *adj_bpe_token(const adj_bpe *b, int32_t id, size_t *len)
{
    if (!b || id < 0 || id >= b->nid || b->len[id] == UINT32_MAX)
        return NULL;
    if (len)
        *len = b->len[id];
    return (const char *)b->bytes + b->off[id];
}

int32_t adj_bpe_find(const adj_bpe *b, const char *s, size_t len)
{
    return b && s ? find_token(b, (const unsigned char *)s, len) : -1;
}

/* ---------------------------------------------------------- encoding */

/*
 * BPE on w[0..n) (token ids): merge the adjacent pair of lowest rank,
 * every occurrence left to right, until no pair has a rank; the new
 * length.  In O(n log n): the ids form a linked list, and a heap holds
 * the ranked pairs by (rank, position).  One round pops every pair of the
 * lowest rank in position order and merges those still present (a merge
 * consumes its right neighbour, so of overlapping occurrences the left one
 * wins, as in a left-to-right pass); the pairs the merges form wait for
 * the end of the round, as the next pass would first see them.
 */
typedef struct bpe_pair {
    int32_t rank, a, c;
    size_t at; /* the left id's position */
} bpe_pair;

typedef struct bpe_work {
    size_t *next, *prev; /* SIZE_MAX: none */
    bpe_pair *heap, *wait;
    size_t nheap, nwait;
} bpe_work;

static int pair_before(const bpe_pair *x, const bpe_pair *y)
{
    return x->rank != y->rank ? x->rank < y->rank : x->at < y->at;
}

static void heap_push(bpe_work *k, bpe_pair e)
{
    size_t i = k->nheap++;
    while (i > 0 && pair_before(&e, &k->heap[(i - 1) / 2])) {
        k->heap[i] = k->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    k->heap[i] = e;
}

static bpe_pair heap_pop(bpe_work *k)
{
    bpe_pair top = k->heap[0], e = k->heap[--k->nheap];
    size_t i = 0, n = k->nheap;
    for (;;) {
        size_t l = 2 * i + 1, m = l;
        if (l >= n)
            break;
        if (l + 1 < n && pair_before(&k->heap[l + 1], &k->heap[l]))
            m = l + 1;
        if (!pair_before(&k->heap[m], &e))
            break;
        k->heap[i] = k->heap[m];
        i = m;
    }
    if (n)
        k->heap[i] = e;
    return top;
}

/* The pair (w[i], w[next[i]]) into the heap or (during a round) the
 * waiting list, when it has a rank. */
static void add_pair(const adj_bpe *b, bpe_work *k, const int32_t *w, size_t i, int wait)
{
    size_t j = k->next[i];
    if (j == SIZE_MAX)
        return;
    size_t s = pair_slot(b, pair_key(w[i], w[j]));
    if (!b->pkey[s])
        return;
    bpe_pair e = {b->prank[s], w[i], w[j], i};
    if (wait)
        k->wait[k->nwait++] = e;
    else
        heap_push(k, e);
}

static size_t merge_piece(const adj_bpe *b, bpe_work *k, int32_t *w, size_t n)
{
    if (n < 2)
        return n;
    k->nheap = 0;
    for (size_t i = 0; i < n; i++) {
        k->next[i] = i + 1 < n ? i + 1 : SIZE_MAX;
        k->prev[i] = i ? i - 1 : SIZE_MAX;
    }
    for (size_t i = 0; i + 1 < n; i++)
        add_pair(b, k, w, i, 0);
    while (k->nheap) {
        int32_t rank = k->heap[0].rank;
        k->nwait = 0;
        while (k->nheap && k->heap[0].rank == rank) {
            bpe_pair e = heap_pop(k);
            size_t i = e.at, j = k->next[i];
            if (w[i] != e.a || j == SIZE_MAX || w[j] != e.c)
                continue; /* merged away since */
            w[i] = b->pres[pair_slot(b, pair_key(e.a, e.c))];
            w[j] = -1;
            k->next[i] = k->next[j];
            if (k->next[j] != SIZE_MAX)
                k->prev[k->next[j]] = i;
            if (k->prev[i] != SIZE_MAX)
                add_pair(b, k, w, k->prev[i], 1);
            add_pair(b, k, w, i, 1);
        }
        for (size_t q = 0; q < k->nwait; q++)
            heap_push(k, k->wait[q]);
    }
    size_t o = 0;
    for (size_t i = 0; i != SIZE_MAX; i = k->next[i])
        w[o++] = w[i];
    return o;
}

adj_status adj_bpe_encode(const adj_bpe *b, const char *text, size_t len, int32_t **ids, size_t *n,
                          adj_error *err)
{
    if (!b || !ids || !n || (!text && len))
        return adj_err_set(err, ADJ_EINVAL, "adj_bpe_encode: NULL %s",
                           !b ? "tokenizer" : !ids ? "ids" : !n ? "n" : "text");
    *ids = NULL;
    *n = 0;
    if (len == 0)
        return ADJ_OK;
    /* at most one id per byte */
    int32_t *out = malloc(len * sizeof *out);
    if (!out)
        return adj_err_set(err, ADJ_ENOMEM, "adj_bpe_encode: out of memory for %zu bytes", len);
    /* the longest piece sizes the merge's work space */
    const unsigned char *s = (const unsigned char *)text;
    size_t most = 0;
    for (size_t i = 0; i < len;) {
        size_t e = adj_bpe_piece_end(s, len, i);
        most = e - i > most ? e - i : most;
        i = e;
    }
    bpe_work wk = {malloc(most * sizeof(size_t)), malloc(most * sizeof(size_t)),
                   malloc(2 * most * sizeof(bpe_pair)), malloc(2 * most * sizeof(bpe_pair)), 0, 0};
    if (!wk.next || !wk.prev || !wk.heap || !wk.wait) {
        free(wk.next);
        free(wk.prev);
        free(wk.heap);
        free(wk.wait);
        free(out);
        return adj_err_set(err, ADJ_ENOMEM, "adj_bpe_encode: out of memory for a piece of %zu bytes",
                           most);
    }
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        size_t e = adj_bpe_piece_end(s, len, i);
        for (size_t j = i; j < e; j++)
            out[k + j - i] = b->byte_id[s[j]];
        k += merge_piece(b, &wk, out + k, e - i);
        i = e;
    }
    free(wk.next);
    free(wk.prev);
    free(wk.heap);
    free(wk.wait);
    int32_t *shrunk = realloc(out, k * sizeof *out);
    *ids = shrunk ? shrunk : out;
    *n = k;
    return ADJ_OK;
}

adj_status adj_bpe_decode(const adj_bpe *b, const int32_t *ids, size_t n, char **text, size_t *len,
                          adj_error *err)
{
    if (!b || !text || !len || (!ids && n))
        return adj_err_set(err, ADJ_EINVAL, "adj_bpe_decode: NULL %s",
                           !b ? "tokenizer" : !text ? "text" : !len ? "len" : "ids");
    *text = NULL;
    *len = 0;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!adj_bpe_token(b, ids[i], NULL))
            return adj_err_set(err, ADJ_EINVAL, "adj_bpe_decode: id %lld at %zu has no token (vocabulary %d)",
                               (long long)ids[i], i, b->nid);
        total += b->len[ids[i]];
    }
    char *t = malloc(total + 1);
    if (!t)
        return adj_err_set(err, ADJ_ENOMEM, "adj_bpe_decode: out of memory for %zu bytes", total);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(t + at, b->bytes + b->off[ids[i]], b->len[ids[i]]);
        at += b->len[ids[i]];
    }
    t[at] = '\0';
    *text = t;
    *len = at;
    return ADJ_OK;
}
