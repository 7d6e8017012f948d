/*
 * GPT-2's pre-tokenizer, the pattern of include/adjoint/bpe.h matched by
 * hand over UTF-8 code points: each alternative in the pattern's order,
 * with the regular expression's greedy and backtracking behaviour spelled
 * out where it matters (`\s+(?!\S)` gives back the last white-space code
 * point when a non-space follows).
 */
#include "io/bpe_internal.h"
#include "io/bpe_unicode.h"

#include <stdint.h>
#include <string.h>

enum { LETTER, NUMBER, SPACE, OTHER };

#define NOT_UTF8 0xffffffffu

/* The code point at s[i] and its length in bytes; a byte that does not
 * start a valid UTF-8 sequence (RFC 3629: no overlong forms, surrogates
 * or values past U+10FFFF) is NOT_UTF8 of length 1. */
static size_t code_point(const unsigned char *s, size_t len, size_t i, uint32_t *cp)
{
    unsigned c = s[i];
    size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    *cp = NOT_UTF8;
    if (n == 0 || i + n > len)
        return 1;
    if (n == 1) {
        *cp = c;
        return 1;
    }
    unsigned lo = 0x80, hi = 0xbf; /* bounds of the second byte */
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (s[i + 1] < lo || s[i + 1] > hi)
        return 1;
    uint32_t v = c & (0xffu >> (n + 1));
    for (size_t k = 1; k < n; k++) {
        if ((s[i + k] & 0xc0) != 0x80)
            return 1;
        v = v << 6 | (s[i + k] & 0x3fu);
    }
    *cp = v;
    return n;
}

static int in_ranges(const uint32_t (*r)[2], size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid][0])
            hi = mid;
        else if (cp > r[mid][1])
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

static int is_space(uint32_t cp)
{
    return (cp >= 0x9 && cp <= 0xd) || cp == 0x20 || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f ||
           cp == 0x3000;
}

static int class_of(uint32_t cp)
{
    if (cp == NOT_UTF8)
        return OTHER;
    if (cp < 0x80) {
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')
            return LETTER;
        if (cp >= '0' && cp <= '9')
            return NUMBER;
        return is_space(cp) ? SPACE : OTHER;
    }
    if (is_space(cp))
        return SPACE;
    if (in_ranges(adj_bpe_letters, sizeof adj_bpe_letters / sizeof adj_bpe_letters[0], cp))
        return LETTER;
    if (in_ranges(adj_bpe_numbers, sizeof adj_bpe_numbers / sizeof adj_bpe_numbers[0], cp))
        return NUMBER;
    return OTHER;
}

/* The class of the code point at i and the position after it. */
static int class_at(const unsigned char *s, size_t len, size_t i, size_t *next)
{
    uint32_t cp;
    *next = i + code_point(s, len, i, &cp);
    return class_of(cp);
}

size_t adj_bpe_piece_end(const unsigned char *s, size_t len, size_t i)
{
    static const char *const contractions[] = {"s", "t", "re", "ve", "m", "ll", "d"};
    size_t next;
    if (s[i] == '\'')
        for (int k = 0; k < 7; k++) {
            size_t n = strlen(contractions[k]);
            if (i + 1 + n <= len && memcmp(s + i + 1, contractions[k], n) == 0)
                return i + 1 + n;
        }
    /* " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": one space, then a run
     * of one class */
    size_t k = s[i] == ' ' ? i + 1 : i;
    if (k < len) {
        int c = class_at(s, len, k, &next);
        if (c != SPACE) {
            size_t at = next;
            while (at < len && class_at(s, len, at, &next) == c)
                at = next;
            return at;
        }
    }
    /* white space: "\s+(?!\S)" keeps the last code point of a run that a
     * non-space follows for the next piece, when the run has two or more;
     * else "\s+" takes the run */
    size_t at = i, last = i;
    while (at < len && class_at(s, len, at, &next) == SPACE) {
        last = at;
        at = next;
    }
    if (at == i) /* not reached: every other case returned above */
        return i + 1;
    return at < len && last > i ? last : at;
}
