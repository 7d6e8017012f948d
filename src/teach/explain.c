/*
 * The explain trace: backward, told as chain-rule arithmetic.
 *
 * adj_backward(y) runs first, so every adjoint is the engine's own.  The
 * trace then walks the same nodes in the same reverse order and, for each
 * node c and each input a, replays c's backward into scratch buffers to
 * show the contribution c passed to a, and (for scalars) replays it once
 * more with ∂f/∂c = 1 to show the local partial ∂c/∂a:
 *     ∂f/∂a += ∂f/∂c · ∂c/∂a = 0.2593 × 1 = 0.2593
 * A node used by several others receives one such line from each; when the
 * sweep reaches it, its adjoint is printed as their sum (fan-out).
 */
#include "teach/teach_int.h"

#include <stdarg.h>
#include <string.h>

#define DIGITS 5

typedef struct explain {
    adj_tape *t;
    FILE *out;
    const char *f;          /* the output's symbol: its name or "f" */
    size_t count;           /* nodes 0 .. y->id */
    unsigned char *reach;   /* y depends on the node and an adjoint flows into it */
    uint32_t *users;        /* edges into the node from reached nodes */
    uint32_t *got;          /* contributions printed so far */
    size_t *first;          /* the node's slot in contribs */
    double *contribs;       /* scalar contributions, in the order printed */
    const adj_teach_sink *sink;  /* may be NULL */
    char line[1024];        /* the sink's line so far */
    size_t len;
} explain;

/* Print to out (may be NULL) and hand each finished line to the sink. */
static void say(explain *e, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (e->out)
        fputs(buf, e->out);
    if (!e->sink || !e->sink->line)
        return;
    for (const char *p = buf; *p; p++) {
        if (*p == '\n') {
            e->line[e->len] = '\0';
            e->sink->line(e->sink->ctx, e->line);
            e->len = 0;
        } else if (e->len + 1 < sizeof e->line) {
            e->line[e->len++] = *p;
        }
    }
}

static bool plain(const char *s) { return !adj_teach_compound(s); }

/* "∂num/∂den", parenthesising a name that is not a plain identifier. */
static void frac(char *buf, size_t size, const char *num, const char *den)
{
    snprintf(buf, size, "∂%s%s%s/∂%s%s%s", plain(num) ? "" : "(", num, plain(num) ? "" : ")",
             plain(den) ? "" : "(", den, plain(den) ? "" : ")");
}

/* "∂f/∂a" */
static void partial(char *buf, size_t size, const char *num, const adj_var *v)
{
    char ref[64];
    frac(buf, size, num, adj_teach_ref(v, ref, sizeof ref));
}

static void *zalloc(adj_tape *t, size_t n)
{
    void *p = t->al.alloc(t->al.ctx, n ? n : 1);
    if (p)
        memset(p, 0, n ? n : 1);
    return p;
}

static void zfree(adj_tape *t, void *p, size_t n)
{
    if (p)
        t->al.free(t->al.ctx, p, n ? n : 1);
}

static bool wants(const adj_var *v) { return v && (v->flags & ADJ_F_GRAD); }

/* Every F_GRAD input of v holds one element, and so does v. */
static bool scalar_node(const adj_var *v)
{
    if (adj_cold(v)->numel != 1)
        return false;
    for (int k = 0; k < adj_nin(v); k++)
        if (wants(adj_input(v, k)) && adj_cold(adj_input(v, k))->numel != 1)
            return false;
    return true;
}

/* An elementwise op of one input (diagonal Jacobian). */
static bool elementwise(const adj_var *v)
{
    const adj_op_desc *d = adj_op_table[v->op];
    return d->arity == 1 && (d->props & ADJ_PROP_MAP);
}

/* The local partial as a symbol where the op gives one (∂(w·a)/∂a = w). */
static void symbolic(const adj_var *c, int k, char *buf, size_t size)
{
    const adj_op_teach *te = adj_op_table[c->op]->teach;
    buf[0] = '\0';
    if (!te || !te->partial)
        return;
    enum { SHOWN = 8 };
    char ref_s[SHOWN][48];
    const char *ref[SHOWN];
    int n = adj_nin(c) < SHOWN ? adj_nin(c) : SHOWN;
    for (int j = 0; j < n; j++)
        ref[j] = adj_teach_ref(adj_input(c, j), ref_s[j], sizeof ref_s[j]);
    if (k < n)
        te->partial(c, k, ref, buf, size);
}

/* The right-hand side of a rule part: "dW += dZ^T X" -> "dZᵀ X". */
static void rhs(adj_op op, int k, char *buf, size_t size)
{
    char part[160];
    adj_teach_rule_part(op, k, part, sizeof part);
    const char *p = strstr(part, "+= ");
    snprintf(buf, size, "%s", p ? p + 3 : part);
}

static void node_line(explain *e, const adj_var *v, const adj_var *y)
{
    char ref[64], def[160], sh[40], dv[64], val[400];
    adj_teach_ref(v, ref, sizeof ref);
    adj_teach_define(v, def, sizeof def);
    adj_fmt_shape(sh, sizeof sh, v->ndim, adj_cold(v)->shape);
    partial(dv, sizeof dv, e->f, v);
    adj_teach_values(v, 1, DIGITS, val, sizeof val);
    if (adj_is_leaf(v))
        say(e, "node %u  %s (%s)", adj_cold(v)->id, ref, def);
    else
        say(e, "node %u  %s = %s", adj_cold(v)->id, ref, def);
    if (adj_cold(v)->numel != 1)
        say(e, "  %s", sh);
    say(e, "\n    %s = ", dv);
    if (v == y) {
        say(e, "%s (the seed)\n", val);
        return;
    }
    uint32_t n = e->users[adj_cold(v)->id];
    if (n > 1 && adj_cold(v)->numel == 1) {
        for (uint32_t i = 0; i < n && i < e->got[adj_cold(v)->id]; i++) {
            char num[40];
            adj_teach_num(num, sizeof num, e->contribs[e->first[adj_cold(v)->id] + i], DIGITS);
            say(e, "%s%s", i ? " + " : "", num);
        }
        say(e, " = %s   (fan-out: %s feeds %u nodes, its adjoint is the sum)\n", val,
                ref, n);
    } else if (n > 1) {
        say(e, "%s   (fan-out: the sum of %u contributions)\n", val, n);
    } else {
        say(e, "%s\n", val);
    }
}

/* "  (a: contribution 1 of 2)" when a feeds several nodes. */
static void fan_note(explain *e, const adj_var *a)
{
    uint32_t n = e->users[adj_cold(a)->id];
    if (n > 1) {
        char ref[64];
        say(e, "   (%s: contribution %u of %u)", adj_teach_ref(a, ref, sizeof ref),
                e->got[adj_cold(a)->id], n);
    }
}

static void record(explain *e, const adj_var *a, double c)
{
    if (adj_cold(a)->numel == 1 && e->got[adj_cold(a)->id] < e->users[adj_cold(a)->id])
        e->contribs[e->first[adj_cold(a)->id] + e->got[adj_cold(a)->id]] = c;
    e->got[adj_cold(a)->id]++;
}

static bool explain_node(explain *e, adj_var *c)
{
    const int nin = adj_nin(c);
    /* per input: its contribution and local partials (nin of each) */
    double **contrib = zalloc(e->t, 2 * (size_t)nin * sizeof *contrib + 1), **local = contrib + nin;
    bool ok = contrib != NULL;
    for (int k = 0; k < nin && ok; k++)
        if (adj_input(c, k)) {
            contrib[k] = zalloc(e->t, adj_cold(adj_input(c, k))->numel * sizeof(double));
            local[k] = zalloc(e->t, adj_cold(adj_input(c, k))->numel * sizeof(double));
            ok = contrib[k] && local[k];
        }
    ok = ok && adj_teach_replay(c, 0, contrib);
    bool scalar = scalar_node(c), diag = !scalar && elementwise(c) && adj_cold(c)->numel <= ADJ_TEACH_SMALL;
    if (ok && (scalar || diag))
        ok = adj_teach_replay(c, 1, local);
    char dc[64], da[64], dca[64], n1[40], n2[40], n3[400], part[160], sym[64];
    partial(dc, sizeof dc, e->f, c);
    if (ok && !scalar && !diag) {
        char full[256], ref[64];
        adj_teach_rule_part(c->op, -1, full, sizeof full);
        say(e, "    rule  %s    with %s = %s", full, adj_teach_symbol(c->op, -1),
                adj_teach_ref(c, ref, sizeof ref));
        for (int k = 0; k < nin; k++)
            if (adj_input(c, k))
                say(e, ", %s = %s", adj_teach_symbol(c->op, k),
                        adj_teach_ref(adj_input(c, k), ref, sizeof ref));
        say(e, "\n");
    }
    for (int k = 0; k < nin && ok; k++) {
        adj_var *a = adj_input(c, k);
        bool dup = false, twice = false; /* an input in several slots: explained once */
        for (int j = 0; j < nin; j++)
            if (j != k && adj_input(c, j) == a)
                *(j < k ? &dup : &twice) = true;
        if (!wants(a) || dup)
            continue;
        partial(da, sizeof da, e->f, a);
        adj_teach_rule_part(c->op, k, part, sizeof part);
        if (e->sink && e->sink->edge)
            e->sink->edge(e->sink->ctx, c, a, contrib[k]);
        if (scalar) {
            char cref[64];
            frac(dca, sizeof dca, adj_teach_ref(c, cref, sizeof cref), adj_teach_ref(a, sym, sizeof sym));
            adj_teach_num(n1, sizeof n1, adj_grad_item(c), DIGITS);
            adj_teach_num(n2, sizeof n2, local[k][0], DIGITS);
            adj_teach_num(n3, sizeof n3, contrib[k][0], DIGITS);
            say(e, "    %s += %s · %s = %s × %s = %s", da, dc, dca, n1, n2, n3);
            symbolic(c, k, sym, sizeof sym);
            if (sym[0])
                say(e, "      [%s, so %s = %s]", part, dca, sym);
            else
                say(e, "      [%s]", part);
            record(e, a, contrib[k][0]);
            fan_note(e, a);
            if (twice)
                say(e, "   (%s enters twice: both terms together)",
                        adj_teach_ref(a, n1, sizeof n1));
            say(e, "\n");
        } else if (diag) {
            char g[400], l[400], r[400];
            char csym[64];
            adj_teach_values(c, 1, DIGITS, g, sizeof g);
            adj_teach_array(a, local[k], DIGITS, l, sizeof l);
            adj_teach_array(a, contrib[k], DIGITS, r, sizeof r);
            adj_teach_ref(c, csym, sizeof csym);
            char ar[64];
            adj_teach_ref(a, ar, sizeof ar);
            say(e, "    %s += %s ⊙ ∂%s/∂%s = %s ⊙ %s = %s      [%s, elementwise]", da, dc,
                    csym, ar, g, l, r, part);
            record(e, a, contrib[k][0]);
            fan_note(e, a);
            say(e, "\n");
        } else {
            char sh[40], r[400], rh[160];
            adj_fmt_shape(sh, sizeof sh, a->ndim, adj_cold(a)->shape);
            adj_teach_array(a, contrib[k], DIGITS, r, sizeof r);
            rhs(c->op, k, rh, sizeof rh);
            say(e, "    %s += %s   %s = %s", da, rh, sh, r);
            record(e, a, adj_cold(a)->numel == 1 ? contrib[k][0] : 0);
            fan_note(e, a);
            say(e, "\n");
        }
    }
    for (int k = 0; contrib && k < nin; k++) {
        size_t n = adj_input(c, k) ? adj_cold(adj_input(c, k))->numel * sizeof(double) : 0;
        zfree(e->t, contrib[k], n);
        zfree(e->t, local[k], n);
    }
    zfree(e->t, contrib, 2 * (size_t)nin * sizeof *contrib + 1);
    return ok;
}

adj_status adj_backward_explain(adj_var *y, FILE *out)
{
    y = adj_h_in(y, "adj_backward_explain");
    if (!y || !out)
        return ADJ_EINVAL;
    return adj_teach_explain(y, out, NULL);
}

adj_status adj_teach_explain(adj_var *y, FILE *out, const adj_teach_sink *sink)
{
    y = adj_h_in(y, "adj_backward_explain");
    if (!y)
        return ADJ_EINVAL;
    adj_tape *t = adj_node_tape(y);
    adj_status s = adj_backward(y);
    if (s != ADJ_OK) {
        if (out)
            fprintf(out, "backward failed: %s\n", adj_tape_message(t));
        return s;
    }
    explain e = {.t = t, .out = out, .sink = sink, .f = adj_node_name(y) ? adj_node_name(y) : "f", .count = (size_t)adj_cold(y)->id + 1};
    e.reach = zalloc(t, e.count);
    e.users = zalloc(t, e.count * sizeof *e.users);
    e.got = zalloc(t, e.count * sizeof *e.got);
    e.first = zalloc(t, e.count * sizeof *e.first);
    size_t edges = 0;
    if (e.reach && e.users && e.got && e.first) {
        e.reach[adj_cold(y)->id] = 1;
        for (size_t id = e.count; id-- > 0;) {
            adj_var *v = adj_node_at(t, id);
            if (!e.reach[id] || adj_is_leaf(v))
                continue;
            for (int k = 0; k < adj_nin(v); k++) {
                adj_var *a = adj_input(v, k);
                bool dup = false;
                for (int j = 0; j < k; j++)
                    dup |= adj_input(v, j) == a;
                if (!wants(a) || dup)
                    continue;
                e.reach[adj_cold(a)->id] = 1;
                e.users[adj_cold(a)->id]++;
            }
        }
        for (size_t id = 0; id < e.count; id++) {
            e.first[id] = edges;
            edges += e.users[id];
        }
        e.contribs = zalloc(t, edges * sizeof(double));
    }
    if (!e.contribs) {
        s = ADJ_ENOMEM;
        say(&e, "adj_backward_explain: out of memory\n");
    } else {
        char ref[64], dv[64];
        partial(dv, sizeof dv, e.f, y);
        say(&e, "backward from %s (node %u): seed %s = 1, then every node in reverse "
                     "recording order passes its adjoint on to its inputs\n\n",
                adj_teach_ref(y, ref, sizeof ref), adj_cold(y)->id, dv);
        for (size_t id = e.count; id-- > 0 && s == ADJ_OK;) {
            adj_var *v = adj_node_at(t, id);
            if (!e.reach[id] || !wants(v))
                continue;
            if (sink && sink->node)
                sink->node(sink->ctx, v);
            node_line(&e, v, y);
            if (!adj_is_leaf(v) && !explain_node(&e, v)) {
                s = ADJ_ENOMEM;
                say(&e, "adj_backward_explain: out of memory\n");
            }
        }
        if (s == ADJ_OK) {
            say(&e, "\ngradient:");
            for (size_t id = 0; id < e.count; id++) {
                adj_var *v = adj_node_at(t, id);
                if (!e.reach[id] || !adj_is_leaf(v) || !wants(v))
                    continue;
                char val[400];
                partial(dv, sizeof dv, e.f, v);
                adj_teach_values(v, 1, 10, val, sizeof val);
                say(&e, "\n    %s = %s", dv, val);
            }
            say(&e, "\n");
        }
    }
    zfree(t, e.reach, e.count);
    zfree(t, e.users, e.count * sizeof *e.users);
    zfree(t, e.got, e.count * sizeof *e.got);
    zfree(t, e.first, e.count * sizeof *e.first);
    zfree(t, e.contribs, edges * sizeof(double));
    if (s == ADJ_OK && out && (fflush(out) != 0 || ferror(out)))
        s = ADJ_EIO;
    return s;
}
