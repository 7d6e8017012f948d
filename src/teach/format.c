/*
 * Names, number and definition formatting, and the backward replay that
 * the table, the explain trace and the DOT writer share.
 */
#include "teach/teach_int.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- names */

adj_var *adj_var_set_name(adj_var *h, const char *name)
{
    adj_var *v = adj_h_get(h, "adj_var_set_name");
    if (!v || (v->flags & ADJ_F_INERT))
        return adj_h_out(v);
    if (!name) {
        adj_node_set_name(v, NULL);
        return h;
    }
    size_t n = strlen(name) + 1;
    char *copy = adj_arena_alloc(adj_node_tape(v), n);
    if (copy) {
        memcpy(copy, name, n);
        adj_node_set_name(v, copy);
    }
    return h;
}

const char *adj_var_name(const adj_var *h)
{
    const adj_var *v = adj_h_get(h, "adj_var_name");
    return v ? adj_node_name(v) : NULL;
}

adj_var *adj_tape_find(const adj_tape *t, const char *name)
{
    if (!t || !name)
        return NULL;
    for (size_t id = t->nnodes; id-- > 0;) {
        adj_var *v = adj_node_at(t, id);
        if (adj_node_name(v) && strcmp(adj_node_name(v), name) == 0)
            return adj_h_out(v);
    }
    return NULL;
}

/* ------------------------------------------------------------ formatting */

/* Append to buf at *n, never past size. */
static void put(char *buf, size_t size, size_t *n, const char *s)
{
    if (*n >= size)
        return;
    int w = snprintf(buf + *n, size - *n, "%s", s);
    if (w > 0)
        *n += (size_t)w;
}

void adj_teach_num(char *buf, size_t size, double v, int digits)
{
    adj_fmt_num(buf, size, v, digits);
}

bool adj_teach_compound(const char *name)
{
    static const char *const ops[] = {"·", "²", "⊙", "ᵀ", "√", "Σ"};
    if (strpbrk(name, " +-*/^()"))
        return true;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strstr(name, ops[i]))
            return true;
    return false;
}

/* v's name as an operand: parenthesised when compound */
static const char *operand(const adj_var *v, char *buf, size_t size)
{
    char r[60];
    adj_teach_ref(v, r, sizeof r);
    snprintf(buf, size, adj_teach_compound(r) ? "(%s)" : "%s", r);
    return buf;
}

const char *adj_teach_ref(const adj_var *v, char *buf, size_t size)
{
    if (!v)
        snprintf(buf, size, "-");
    else if (adj_node_name(v))
        snprintf(buf, size, "%s", adj_node_name(v));
    else
        snprintf(buf, size, "v%u", adj_cold(v)->id);
    return buf;
}

/* Inputs a definition shows by name; more are written "...". */
#define SHOWN 8

/* Expand a teaching template: $k -> opnd[k], @k -> ref[k] (k < n). */
static void expand(const char *tpl, int n, const char *const *opnd, const char *const *ref,
                   char *buf, size_t size)
{
    size_t w = 0;
    if (!size)
        return;
    for (const char *p = tpl; *p && w + 1 < size; p++) {
        const char *sub = NULL;
        if ((p[0] == '$' || p[0] == '@') && p[1] >= '0' && p[1] <= '9') {
            int k = p[1] - '0';
            sub = k < n ? (p[0] == '$' ? opnd[k] : ref[k]) : "?";
            p++;
        }
        if (sub) {
            int m = snprintf(buf + w, size - w, "%s", sub);
            w = m < 0 ? w : w + (size_t)m < size ? w + (size_t)m : size - 1;
        } else {
            buf[w++] = *p;
        }
    }
    buf[w] = '\0';
}

void adj_teach_define(const adj_var *v, char *buf, size_t size)
{
    if (adj_is_leaf(v)) {
        snprintf(buf, size, "%s", (v->flags & ADJ_F_EXTGRAD) ? "param"
                                  : (v->flags & ADJ_F_GRAD) ? "input" : "const");
        return;
    }
    const adj_op_desc *d = adj_op_table[v->op];
    const adj_op_teach *te = d->teach;
    int n = adj_nin(v), shown = n < SHOWN ? n : SHOWN;
    char opnd_s[SHOWN][64], ref_s[SHOWN][64];
    const char *opnd[SHOWN], *ref[SHOWN];
    for (int k = 0; k < shown; k++) {
        operand(adj_input(v, k), opnd_s[k], sizeof opnd_s[k]); /* infix, parenthesised when compound */
        adj_teach_ref(adj_input(v, k), ref_s[k], sizeof ref_s[k]); /* function arguments, as they are */
        opnd[k] = opnd_s[k];
        ref[k] = ref_s[k];
    }
    if (te && te->define_fn) {
        te->define_fn(v, opnd, ref, buf, size);
    } else if (te && te->define) {
        expand(te->define, shown, opnd, ref, buf, size);
    } else {
        size_t w = 0;
        put(buf, size, &w, d->name);
        put(buf, size, &w, "(");
        for (int k = 0; k < shown; k++) {
            put(buf, size, &w, k ? ", " : "");
            put(buf, size, &w, ref[k]);
        }
        put(buf, size, &w, n > shown ? ", ...)" : ")");
    }
}

/* Nested brackets over the shape: [[1, 2], [3, 4]]. */
static void nested(const adj_var *v, const double *x, int digits, int dim, size_t *at, char *buf,
                   size_t size, size_t *n)
{
    if (dim >= v->ndim || dim >= ADJ_MAX_DIMS) {
        char num[40];
        adj_teach_num(num, sizeof num, x[(*at)++], digits);
        put(buf, size, n, num);
        return;
    }
    put(buf, size, n, "[");
    for (int64_t i = 0; i < adj_cold(v)->shape[dim]; i++) {
        if (i)
            put(buf, size, n, ", ");
        nested(v, x, digits, dim + 1, at, buf, size, n);
    }
    put(buf, size, n, "]");
}

void adj_teach_array(const adj_var *v, const double *x, int digits, char *buf, size_t size)
{
    size_t n = 0;
    if (size)
        buf[0] = '\0';
    if (adj_cold(v)->numel == 0) {
        put(buf, size, &n, "[]");
    } else if (adj_cold(v)->numel <= ADJ_TEACH_SMALL) {
        size_t at = 0;
        nested(v, x, digits, 0, &at, buf, size, &n);
    } else {
        double lo = x[0], hi = x[0], sum = 0;
        for (size_t i = 0; i < adj_cold(v)->numel; i++) {
            lo = fmin(lo, x[i]);
            hi = fmax(hi, x[i]);
            sum += x[i];
        }
        char a[40], b[40], c[40];
        adj_teach_num(a, sizeof a, lo, 4);
        adj_teach_num(b, sizeof b, hi, 4);
        adj_teach_num(c, sizeof c, sum / (double)adj_cold(v)->numel, 4);
        snprintf(buf, size, "%s .. %s, mean %s", a, b, c);
    }
}

void adj_teach_values(const adj_var *v, int grad, int digits, char *buf, size_t size)
{
    /* values through v's layout (a view may be strided); adjoints are
     * row-major */
    const void *src = grad ? adj_grad_for_read(v) : v->value;
#define TEACH_ELEM_(i) (grad ? adj_elem_get(src, v->dtype, (i)) : adj_var_elem(v, (i)))
    if (!src) {
        snprintf(buf, size, "-");
        return;
    }
    if (adj_cold(v)->numel <= ADJ_TEACH_SMALL) {
        double x[ADJ_TEACH_SMALL];
        for (size_t i = 0; i < adj_cold(v)->numel; i++)
            x[i] = TEACH_ELEM_(i);
        adj_teach_array(v, x, digits, buf, size);
        return;
    }
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    for (size_t i = 0; i < adj_cold(v)->numel; i++) {
        double e = TEACH_ELEM_(i);
        lo = fmin(lo, e);
        hi = fmax(hi, e);
        sum += e;
    }
    char a[40], b[40], c[40];
    adj_teach_num(a, sizeof a, lo, 4);
    adj_teach_num(b, sizeof b, hi, 4);
    adj_teach_num(c, sizeof c, sum / (double)adj_cold(v)->numel, 4);
    snprintf(buf, size, "%s .. %s, mean %s", a, b, c);
#undef TEACH_ELEM_
}

/* ------------------------------------------------------------ the rules */

void adj_teach_rule_part(adj_op op, int k, char *buf, size_t size)
{
    const char *r = adj_op_rule(op), *start = r, *end = r + strlen(r);
    int parts = 1;
    for (const char *p = r; *p; p++)
        parts += *p == ';';
    if (k >= 0 && k < parts && parts > 1) {
        for (int i = 0; i < k; i++)
            start = strchr(start, ';') + 1;
        end = strchr(start, ';');
        if (!end)
            end = start + strlen(start);
    }
    while (*start == ' ')
        start++;
    size_t n = 0;
    if (size)
        buf[0] = '\0';
    for (const char *p = start; p < end && n + 4 < size; p++) {
        if (p[0] == '^' && p[1] == 'T') {
            memcpy(buf + n, "ᵀ", strlen("ᵀ"));
            n += strlen("ᵀ");
            p++;
        } else {
            buf[n++] = *p;
        }
    }
    if (n < size)
        buf[n] = '\0';
}

const char *adj_teach_symbol(adj_op op, int k)
{
    static const char *const one[] = {"x", "y"}, *const two[] = {"a", "b", "y"};
    const adj_op_desc *d = adj_op_table[op];
    int n = d->arity;
    const char *const *s = d->teach && d->teach->symbols ? d->teach->symbols
                           : n == 2 ? two : n == 1 ? one : NULL;
    if (k < 0)
        return s ? s[n] : "y";
    return s && k < n ? s[k] : "";
}

/* ------------------------------------------------------------ the replay */

int adj_teach_replay(adj_var *y, int unit, double *const *contrib)
{
    adj_tape *t = adj_node_tape(y);
    const adj_op_desc *d = adj_op_table[y->op];
    if (adj_is_leaf(y) || !d->backward)
        return 0;
    const int nin = adj_nin(y);
    /* per input slot: the adjoint it had, its scratch adjoint and size, and
     * the earlier slot holding the same var (-1) */
    struct slot {
        void *saved, *scratch;
        size_t bytes;
        int dup;
    } *sl = t->al.alloc(t->al.ctx, (size_t)nin * sizeof *sl + 1);
    if (!sl)
        return 0;
    void *ygrad = y->grad, *ones = NULL;
    size_t es = adj_dsize(y->dtype);
    if (unit) {
        ones = t->al.alloc(t->al.ctx, adj_cold(y)->numel * es + 1);
        if (!ones) {
            t->al.free(t->al.ctx, sl, (size_t)nin * sizeof *sl + 1);
            return 0;
        }
        for (size_t i = 0; i < adj_cold(y)->numel; i++) {
            if (y->dtype == ADJ_F64)
                ((double *)ones)[i] = 1.0;
            else
                ((float *)ones)[i] = 1.0f;
        }
        y->grad = ones;
    } else if (!y->grad) {
        t->al.free(t->al.ctx, sl, (size_t)nin * sizeof *sl + 1);
        return 0;
    }
    int ok = 1;
    for (int k = 0; k < nin; k++)
        sl[k] = (struct slot){NULL, NULL, 0, -1};
    for (int k = 0; k < nin && ok; k++) {
        adj_var *in = adj_input(y, k);
        if (!in)
            continue;
        for (int j = 0; j < k; j++)
            if (adj_input(y, j) == in)
                sl[k].dup = j;
        if (sl[k].dup >= 0)
            continue;
        sl[k].bytes = adj_cold(in)->numel * adj_dsize(in->dtype) + 1;
        sl[k].scratch = t->al.alloc(t->al.ctx, sl[k].bytes);
        if (!sl[k].scratch) {
            ok = 0;
            break;
        }
        memset(sl[k].scratch, 0, sl[k].bytes);
        (void)adj_grad_for_read(in); /* a parameter's pending zeros stay its own */
        sl[k].saved = in->grad;
        in->grad = sl[k].scratch;
    }
    if (ok)
        d->backward(y);
    for (int k = 0; k < nin; k++) {
        adj_var *in = adj_input(y, k);
        if (!in)
            continue;
        const void *src = sl[sl[k].dup >= 0 ? sl[k].dup : k].scratch;
        if (ok && contrib[k] && src)
            for (size_t i = 0; i < adj_cold(in)->numel; i++)
                contrib[k][i] = in->dtype == ADJ_F64 ? ((const double *)src)[i]
                                                     : (double)((const float *)src)[i];
    }
    for (int k = nin; k-- > 0;) {
        if (!sl[k].scratch)
            continue;
        adj_input(y, k)->grad = sl[k].saved;
        t->al.free(t->al.ctx, sl[k].scratch, sl[k].bytes);
    }
    t->al.free(t->al.ctx, sl, (size_t)nin * sizeof *sl + 1);
    y->grad = ygrad;
    if (ones)
        t->al.free(t->al.ctx, ones, adj_cold(y)->numel * es + 1);
    return ok;
}
