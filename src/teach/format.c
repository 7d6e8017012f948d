/*
 * Names, number and definition formatting, and the backward replay that
 * the table, the explain trace and the DOT writer share.
 */
#include "teach/teach_int.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- names */

adj_var *adj_var_set_name(adj_var *v, const char *name)
{
    if (!v || (v->flags & ADJ_F_INERT))
        return v;
    if (!name) {
        adj_cold(v)->name = NULL;
        return v;
    }
    size_t n = strlen(name) + 1;
    char *copy = adj_arena_alloc(adj_cold(v)->tape, n);
    if (copy) {
        memcpy(copy, name, n);
        adj_cold(v)->name = copy;
    }
    return v;
}

const char *adj_var_name(const adj_var *v) { return v ? adj_cold(v)->name : NULL; }

adj_var *adj_tape_find(const adj_tape *t, const char *name)
{
    if (!t || !name)
        return NULL;
    for (size_t id = t->nnodes; id-- > 0;) {
        adj_var *v = adj_node_at(t, id);
        if (adj_cold(v)->name && strcmp(adj_cold(v)->name, name) == 0)
            return v;
    }
    return NULL;
}

/* ------------------------------------------------------------ formatting */

void adj_teach_num(char *buf, size_t size, double v, int digits)
{
    if (v == 0)
        v = 0; /* -0 -> 0 */
    snprintf(buf, size, "%.*g", digits, v);
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
    else if (adj_cold(v)->name)
        snprintf(buf, size, "%s", adj_cold(v)->name);
    else
        snprintf(buf, size, "v%u", adj_cold(v)->id);
    return buf;
}

void adj_teach_define(const adj_var *v, char *buf, size_t size)
{
    char a[64], b[64], c[64], ra[64], rb[64], num[32];
    const adj_var *x = v->in[0], *y = v->in[1], *z = v->in[2];
    operand(x, a, sizeof a); /* infix operands, parenthesised when compound */
    operand(y, b, sizeof b);
    operand(z, c, sizeof c);
    adj_teach_ref(x, ra, sizeof ra); /* function arguments, as they are */
    adj_teach_ref(y, rb, sizeof rb);
    /* the constant of the ops that have one (adj_attr_c) */
    const bool has_c = v->op == ADJ_OP_SCALE || v->op == ADJ_OP_POW || v->op == ADJ_OP_LEAKY_RELU ||
                       v->op == ADJ_OP_ELU;
    adj_teach_num(num, sizeof num, has_c ? adj_attr_c_get(v) : 0.0, 6);
    switch ((adj_op)v->op) {
    case ADJ_OP_LEAF:
        snprintf(buf, size, "%s", (v->flags & ADJ_F_EXTGRAD) ? "param"
                                  : (v->flags & ADJ_F_GRAD) ? "input" : "const");
        break;
    case ADJ_OP_ADD: snprintf(buf, size, "%s + %s", a, b); break;
    case ADJ_OP_SUB: snprintf(buf, size, "%s - %s", a, b); break;
    case ADJ_OP_MUL: snprintf(buf, size, "%s · %s", a, b); break;
    case ADJ_OP_DIV: snprintf(buf, size, "%s / %s", a, b); break;
    case ADJ_OP_NEG: snprintf(buf, size, "-%s", a); break;
    case ADJ_OP_SCALE: snprintf(buf, size, "%s · %s", num, a); break;
    case ADJ_OP_SQUARE: snprintf(buf, size, "%s²", a); break;
    case ADJ_OP_POW: snprintf(buf, size, "%s^%s", a, num); break;
    case ADJ_OP_ABS: snprintf(buf, size, "|%s|", ra); break;
    case ADJ_OP_SIGMOID: snprintf(buf, size, "σ(%s)", ra); break;
    case ADJ_OP_LEAKY_RELU: snprintf(buf, size, "leaky_relu(%s, %s)", ra, num); break;
    case ADJ_OP_ELU: snprintf(buf, size, "elu(%s, %s)", ra, num); break;
    case ADJ_OP_MATMUL:
        snprintf(buf, size, "%s%s %s%s", a, (ADJ_ATTR(v, adj_attr_matmul)->trans & 1) ? "ᵀ" : "", b,
                 (ADJ_ATTR(v, adj_attr_matmul)->trans & 2) ? "ᵀ" : "");
        break;
    case ADJ_OP_LINEAR:
        if (z)
            snprintf(buf, size, "%s %sᵀ + %s", a, b, c);
        else
            snprintf(buf, size, "%s %sᵀ", a, b);
        break;
    case ADJ_OP_TRANSPOSE: snprintf(buf, size, "%sᵀ", a); break;
    case ADJ_OP_RESHAPE: {
        char sh[64];
        adj_fmt_shape(sh, sizeof sh, v->ndim, adj_cold(v)->shape);
        snprintf(buf, size, "reshape(%s, %s)", ra, sh);
        break;
    }
    case ADJ_OP_SUM_AXIS:
    case ADJ_OP_MEAN_AXIS:
        snprintf(buf, size, "%s(%s, axis %d)", v->op == ADJ_OP_SUM_AXIS ? "sum" : "mean", ra,
                 (int)ADJ_ATTR(v, adj_attr_axis)->axis);
        break;
    case ADJ_OP_SOFTMAX_CE: snprintf(buf, size, "cross_entropy(softmax(%s), labels)", ra); break;
    default:
        if (adj_op_table[v->op]->arity >= 2)
            snprintf(buf, size, "%s(%s, %s)", adj_op_table[v->op]->name, ra, rb);
        else
            snprintf(buf, size, "%s(%s)", adj_op_table[v->op]->name, ra);
        break;
    }
}

/* Append to buf at *n, never past size. */
static void put(char *buf, size_t size, size_t *n, const char *s)
{
    if (*n >= size)
        return;
    int w = snprintf(buf + *n, size - *n, "%s", s);
    if (w > 0)
        *n += (size_t)w;
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
    const void *src = grad ? v->grad : v->value;
    if (!src) {
        snprintf(buf, size, "-");
        return;
    }
    if (adj_cold(v)->numel <= ADJ_TEACH_SMALL) {
        double x[ADJ_TEACH_SMALL];
        for (size_t i = 0; i < adj_cold(v)->numel; i++)
            x[i] = v->dtype == ADJ_F64 ? ((const double *)src)[i] : ((const float *)src)[i];
        adj_teach_array(v, x, digits, buf, size);
        return;
    }
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    for (size_t i = 0; i < adj_cold(v)->numel; i++) {
        double e = v->dtype == ADJ_F64 ? ((const double *)src)[i] : ((const float *)src)[i];
        lo = fmin(lo, e);
        hi = fmax(hi, e);
        sum += e;
    }
    char a[40], b[40], c[40];
    adj_teach_num(a, sizeof a, lo, 4);
    adj_teach_num(b, sizeof b, hi, 4);
    adj_teach_num(c, sizeof c, sum / (double)adj_cold(v)->numel, 4);
    snprintf(buf, size, "%s .. %s, mean %s", a, b, c);
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
    static const char *const unary[4] = {"x", "", "", "y"};
    static const char *const binary[4] = {"a", "b", "", "y"};
    static const char *const matmul[4] = {"A", "B", "", "C"};
    static const char *const linear[4] = {"X", "W", "b", "Z"};
    static const char *const matrix[4] = {"X", "", "", "Y"};
    static const char *const pairl[4] = {"a", "b", "", "L"};
    static const char *const bce[4] = {"z", "t", "", "L"};
    static const char *const ce[4] = {"z", "", "", "C"};
    const char *const *s = unary;
    switch (op) {
    case ADJ_OP_ADD: case ADJ_OP_SUB: case ADJ_OP_MUL: case ADJ_OP_DIV: s = binary; break;
    case ADJ_OP_MATMUL: s = matmul; break;
    case ADJ_OP_LINEAR: s = linear; break;
    case ADJ_OP_TRANSPOSE: s = matrix; break;
    case ADJ_OP_MSE: s = pairl; break;
    case ADJ_OP_BCE_LOGITS: s = bce; break;
    case ADJ_OP_SOFTMAX_CE: s = ce; break;
    default: break;
    }
    return k >= 0 && k < 4 ? s[k] : "";
}

/* ------------------------------------------------------------ the replay */

int adj_teach_replay(adj_var *y, int unit, double *const contrib[3])
{
    adj_tape *t = adj_cold(y)->tape;
    const adj_op_desc *d = adj_op_table[y->op];
    if (y->op == ADJ_OP_LEAF || !d->backward)
        return 0;
    void *ygrad = y->grad, *ones = NULL;
    size_t es = adj_dsize(y->dtype);
    if (unit) {
        ones = t->al.alloc(t->al.ctx, adj_cold(y)->numel * es + 1);
        if (!ones)
            return 0;
        for (size_t i = 0; i < adj_cold(y)->numel; i++) {
            if (y->dtype == ADJ_F64)
                ((double *)ones)[i] = 1.0;
            else
                ((float *)ones)[i] = 1.0f;
        }
        y->grad = ones;
    } else if (!y->grad) {
        return 0;
    }
    void *saved[3] = {NULL, NULL, NULL}, *scratch[3] = {NULL, NULL, NULL};
    size_t bytes[3] = {0, 0, 0};
    int dup[3] = {-1, -1, -1}, ok = 1;
    for (int k = 0; k < 3 && ok; k++) {
        adj_var *in = y->in[k];
        if (!in || k >= d->arity)
            continue;
        for (int j = 0; j < k; j++)
            if (y->in[j] == in)
                dup[k] = j;
        if (dup[k] >= 0)
            continue;
        bytes[k] = adj_cold(in)->numel * adj_dsize(in->dtype) + 1;
        scratch[k] = t->al.alloc(t->al.ctx, bytes[k]);
        if (!scratch[k]) {
            ok = 0;
            break;
        }
        memset(scratch[k], 0, bytes[k]);
        saved[k] = in->grad;
        in->grad = scratch[k];
    }
    if (ok)
        d->backward(y);
    for (int k = 0; k < 3; k++) {
        adj_var *in = y->in[k];
        if (!in || k >= d->arity)
            continue;
        const void *src = scratch[dup[k] >= 0 ? dup[k] : k];
        if (ok && contrib[k] && src)
            for (size_t i = 0; i < adj_cold(in)->numel; i++)
                contrib[k][i] = in->dtype == ADJ_F64 ? ((const double *)src)[i]
                                                     : (double)((const float *)src)[i];
    }
    for (int k = 3; k-- > 0;) {
        if (!scratch[k])
            continue;
        y->in[k]->grad = saved[k];
        t->al.free(t->al.ctx, scratch[k], bytes[k]);
    }
    y->grad = ygrad;
    if (ones)
        t->al.free(t->al.ctx, ones, adj_cold(y)->numel * es + 1);
    return ok;
}
