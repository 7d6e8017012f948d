/*
 * The interactive page: adj_tape_html and adj_example_html.
 *
 * Every number the page shows is computed here, by the library: the
 * values, the explain trace cut into steps (one where the sweep reaches a
 * node, one for each contribution a node passes to an input), the running
 * sum of each adjoint after each step, and for every element of every
 * input a forward sweep of tangents told as chain-rule lines.  The page's
 * script only chooses which step to show, so what it shows is what the C
 * library computed.  The inputs of a page are fixed; for an example the
 * page builds the command line that writes it again with other inputs.
 */
#include "teach/teach_int.h"
#include "teach/page_assets.h"

#include <stdlib.h>
#include <string.h>

#define MAX_NODES 400   /* a page is for small tapes */
#define MAX_SEEDS 64    /* forward sweeps offered: elements of the inputs */
#define DIGITS 5
#define EXPR 600        /* bytes of a running sum's text */

typedef struct page {
    adj_tape *t;
    FILE *f;
    size_t count;           /* nodes 0 .. output */
    unsigned char *shown;   /* the output depends on the node */
    int *chars;             /* widest dynamic label line of each node */
    double **sum;           /* each adjoint's running sum */
    char **expr;            /* one-element adjoints: "0.2593 + 0.70484" so far */
    int *ncontrib;
    int nev, nlines;
    bool oom;
} page;

/* s as a JSON string that can sit inside <script> */
static void jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == '<' || *p == '>' || *p == '&')
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void widen(page *p, size_t id, const char *prefix, const char *show)
{
    int w = adj_teach_width(prefix) + adj_teach_width(show);
    if (w > p->chars[id])
        p->chars[id] = w;
}

static void open_event(page *p, const char *kind, const adj_var *n, const adj_var *from,
                       const char *show)
{
    fprintf(p->f, "]},\n{\"k\":\"%s\",\"n\":%u", kind, adj_cold(n)->id);
    if (from)
        fprintf(p->f, ",\"from\":%u", adj_cold(from)->id);
    fputs(",\"show\":", p->f);
    jstr(p->f, show);
    fputs(",\"lines\":[", p->f);
    p->nev++;
    p->nlines = 0;
    widen(p, adj_cold(n)->id, "adjoint ", show);
}

/* "expr = total" for a node's label; past three terms only the first and
 * the last term show ("0.1 + … + 0.3 = 1.2 (8 terms)"): the trace has all. */
static void sum_text(char *buf, size_t size, const char *expr, int n, const char *total)
{
    const char *first = strstr(expr, " + "), *last = first;
    for (const char *q = first; q; q = strstr(q + 3, " + "))
        last = q;
    if (n <= 3 || !first)
        snprintf(buf, size, "%s = %s", expr, total);
    else
        snprintf(buf, size, "%.*s + … + %s = %s (%d terms)", (int)(first - expr), expr, last + 3,
                 total, n);
}

static void on_node(void *ctx, const adj_var *v)
{
    page *p = ctx;
    size_t id = adj_cold(v)->id;
    char fin[400], show[1000];
    adj_teach_values(v, 1, DIGITS, fin, sizeof fin);
    if (p->ncontrib[id] > 1 && p->expr[id])
        sum_text(show, sizeof show, p->expr[id], p->ncontrib[id], fin);
    else
        snprintf(show, sizeof show, "%s", fin);
    open_event(p, "node", v, NULL, show);
}

static void on_edge(void *ctx, const adj_var *c, const adj_var *a, const double *contrib)
{
    page *p = ctx;
    size_t id = adj_cold(a)->id, n = adj_cold(a)->numel;
    if (!p->sum[id])
        p->sum[id] = adj_teach_zalloc(p->t, n * sizeof(double));
    if (n == 1 && !p->expr[id])
        p->expr[id] = adj_teach_zalloc(p->t, EXPR);
    if (!p->sum[id] || (n == 1 && !p->expr[id])) {
        p->oom = true;
        return;
    }
    for (size_t i = 0; i < n; i++)
        p->sum[id][i] += contrib[i];
    p->ncontrib[id]++;
    char show[1000], num[40];
    if (n == 1) {
        size_t len = strlen(p->expr[id]);
        adj_teach_num(num, sizeof num, contrib[0], DIGITS);
        snprintf(p->expr[id] + len, EXPR - len, "%s%s", len ? " + " : "", num);
        adj_teach_num(num, sizeof num, p->sum[id][0], DIGITS);
        if (p->ncontrib[id] > 1)
            sum_text(show, sizeof show, p->expr[id], p->ncontrib[id], num);
        else
            snprintf(show, sizeof show, "%s", num);
    } else {
        adj_teach_array(a, p->sum[id], DIGITS, show, sizeof show);
    }
    open_event(p, "edge", a, c, show);
}

static void on_line(void *ctx, const char *line)
{
    page *p = ctx;
    fputs(p->nlines++ ? "," : "", p->f);
    jstr(p->f, line);
}

/* "∂num/∂den" with num parenthesised when compound; den as given */
static void frac(char *buf, size_t size, const adj_var *v, const char *den)
{
    char ref[64];
    adj_teach_ref(v, ref, sizeof ref);
    bool c = adj_teach_compound(ref);
    snprintf(buf, size, "∂%s%s%s/∂%s", c ? "(" : "", ref, c ? ")" : "", den);
}

static double get(const adj_var *v, const void *x, size_t i)
{
    return adj_elem_get(x, v->dtype, i);
}

/* The tangent of v as text (tangents are in v's dtype). */
static void tangent_text(const adj_var *v, const void *x, char *buf, size_t size)
{
    size_t n = adj_cold(v)->numel;
    double small[ADJ_TEACH_SMALL] = {0};
    adj_tape *t = adj_node_tape(v);
    double *d = n <= ADJ_TEACH_SMALL ? small : adj_teach_zalloc(t, n * sizeof(double));
    if (!d) {
        snprintf(buf, size, "?");
        return;
    }
    for (size_t i = 0; i < n; i++)
        d[i] = get(v, x, i);
    adj_teach_array(v, d, DIGITS, buf, size);
    if (d != small)
        adj_teach_free(t, d, n * sizeof(double));
}

/* The line of a forward step at u: the chain rule summed over the inputs
 * whose tangents are live, with numbers where everything is a scalar. */
static void forward_line(adj_var *u, void *const *tan, const unsigned char *live,
                         const char *seed, char *buf, size_t size)
{
    char du[256], shown[400], def[160];
    frac(du, sizeof du, u, seed);
    tangent_text(u, tan[adj_cold(u)->id], shown, sizeof shown);
    bool scalar = adj_cold(u)->numel == 1;
    int nin = adj_nin(u);
    for (int k = 0; k < nin; k++)
        if (adj_input(u, k) && live[adj_cold(adj_input(u, k))->id] &&
            (adj_cold(adj_input(u, k))->numel != 1 || k >= 3))
            scalar = false;
    double l[3] = {0, 0, 0};
    double *lp[3] = {NULL, NULL, NULL};
    for (int k = 0; k < nin && k < 3; k++)
        if (u->in[k] && adj_cold(u->in[k])->numel == 1)
            lp[k] = &l[k];
    if (!scalar || !adj_teach_replay(u, 1, lp)) {
        adj_teach_define(u, def, sizeof def);
        char ref[64];
        snprintf(buf, size, "%s = %s      [the tangent rule of %s = %s]", du, shown,
                 adj_teach_ref(u, ref, sizeof ref), def);
        return;
    }
    char sym[1200] = "", num[600] = "", a[256], b[256], x[40], y[40];
    size_t ns = 0, nn = 0;
    for (int k = 0; k < nin && k < 3; k++) {
        const adj_var *in = u->in[k];
        if (!in || !live[adj_cold(in)->id] || (k >= 1 && u->in[0] == in) || (k == 2 && u->in[1] == in))
            continue;
        char ref[64];
        adj_teach_ref(in, ref, sizeof ref);
        frac(a, sizeof a, u, adj_teach_compound(ref) ? "" : ref);
        if (adj_teach_compound(ref)) /* ∂u/∂(a-y) */
            snprintf(a + strlen(a), sizeof a - strlen(a), "(%s)", ref);
        frac(b, sizeof b, in, seed);
        adj_teach_num(x, sizeof x, l[k], DIGITS);
        adj_teach_num(y, sizeof y, get(in, tan[adj_cold(in)->id], 0), DIGITS);
        ns += (size_t)snprintf(sym + ns, sizeof sym - ns, "%s%s · %s", ns ? " + " : "", a, b);
        nn += (size_t)snprintf(num + nn, sizeof num - nn, "%s%s × %s", nn ? " + " : "", x, y);
        if (ns >= sizeof sym || nn >= sizeof num)
            break;
    }
    snprintf(buf, size, "%s = %s = %s = %s", du, sym, num, shown);
}

/* One forward sweep seeded with element j of leaf s. */
static void forward_seed(page *p, adj_var *s, size_t j, bool first)
{
    char label[96], ref[64];
    adj_teach_ref(s, ref, sizeof ref);
    bool c = adj_teach_compound(ref);
    int len = snprintf(label, sizeof label, c ? "(%s)" : "%s", ref);
    if (adj_cold(s)->numel != 1) {
        size_t rest = j;
        int64_t idx[ADJ_MAX_DIMS];
        for (int dim = s->ndim; dim-- > 0;) {
            idx[dim] = (int64_t)(rest % (size_t)adj_cold(s)->shape[dim]);
            rest /= (size_t)adj_cold(s)->shape[dim];
        }
        for (int dim = 0; dim < s->ndim && len < (int)sizeof label - 24; dim++)
            len += snprintf(label + len, sizeof label - (size_t)len, "%s%lld", dim ? "," : "[",
                            (long long)idx[dim]);
        snprintf(label + len, sizeof label - (size_t)len, "]");
    }
    void **tan = adj_teach_zalloc(p->t, p->count * sizeof *tan);
    unsigned char *live = adj_teach_zalloc(p->t, p->count);
    bool ok = tan && live;
    for (size_t id = 0; id < p->count && ok; id++)
        if (p->shown[id]) {
            const adj_var *u = adj_node_at(p->t, id);
            tan[id] = adj_teach_zalloc(p->t, adj_cold(u)->numel * adj_dsize(u->dtype));
            ok = tan[id] != NULL;
        }
    if (!ok) {
        p->oom = true;
    } else {
        fprintf(p->f, "%s{\"label\":", first ? "" : ",\n");
        jstr(p->f, label);
        fprintf(p->f, ",\"n\":%u,\"steps\":[", adj_cold(s)->id);
        int steps = 0;
        for (size_t id = 0; id < p->count; id++) {
            adj_var *u = adj_node_at(p->t, id);
            const adj_op_desc *d = adj_op_table[u->op];
            char line[1600], shown[400];
            if (!p->shown[id])
                continue;
            if (u == s) {
                if (u->dtype == ADJ_F64)
                    ((double *)tan[id])[j] = 1;
                else
                    ((float *)tan[id])[j] = 1;
                live[id] = 1;
                char du[256];
                frac(du, sizeof du, u, label);
                tangent_text(u, tan[id], shown, sizeof shown);
                snprintf(line, sizeof line, "%s = %s   (the seed: the chosen input moves, nothing else does)",
                         du, shown);
            } else {
                if (adj_is_leaf(u) || !d->jvp)
                    continue;
                int nin = adj_nin(u);
                const void **tx = adj_teach_zalloc(p->t, ((size_t)nin + 1) * sizeof *tx);
                bool any = false;
                for (int k = 0; tx && k < nin; k++)
                    if (adj_input(u, k)) {
                        tx[k] = tan[adj_cold(adj_input(u, k))->id];
                        any = any || live[adj_cold(adj_input(u, k))->id];
                    }
                if (!tx)
                    p->oom = true;
                if (any)
                    d->jvp(u, tx, tan[id]);
                adj_teach_free(p->t, tx, ((size_t)nin + 1) * sizeof *tx);
                if (!any)
                    continue;
                live[id] = 1;
                tangent_text(u, tan[id], shown, sizeof shown);
                forward_line(u, tan, live, label, line, sizeof line);
            }
            fprintf(p->f, "%s{\"n\":%zu,\"show\":", steps++ ? ",\n" : "", id);
            jstr(p->f, shown);
            fputs(",\"line\":", p->f);
            jstr(p->f, line);
            fputc('}', p->f);
            widen(p, id, "tangent ", shown);
        }
        fputs("]}", p->f);
    }
    for (size_t id = 0; tan && id < p->count; id++)
        if (tan[id]) {
            const adj_var *u = adj_node_at(p->t, id);
            adj_teach_free(p->t, tan[id], adj_cold(u)->numel * adj_dsize(u->dtype));
        }
    adj_teach_free(p->t, tan, p->count * sizeof *tan);
    adj_teach_free(p->t, live, p->count);
}

static void write_head(page *p, const char *title, const adj_var *y)
{
    FILE *f = p->f;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    adj_teach_xml(f, title);
    fputs("</title>\n<style>\n", f);
    fputs(adj_page_style, f);
    fputs("</style>\n<script type=\"application/json\" id=\"data\">\n{\"names\":[", f);
    for (size_t id = 0; id < p->count; id++) {
        char ref[64];
        fputs(id ? "," : "", f);
        jstr(f, adj_teach_ref(adj_node_at(p->t, id), ref, sizeof ref));
    }
    fprintf(f, "],\n\"out\":%u,\n\"rev\":[{\"k\":\"head\",\"n\":-1,\"show\":\"\",\"lines\":[", adj_cold(y)->id);
}

static void write_body(page *p, const char *title, const char *notes, const adj_example *ex,
                       const double *k)
{
    FILE *f = p->f;
    fputs("\n</script>\n</head>\n<body>\n<header><h1>", f);
    adj_teach_xml(f, title);
    fputs("</h1>\n", f);
    if (notes) {
        fputs("<p class=\"notes\">", f);
        adj_teach_xml(f, notes);
        fputs("</p>\n", f);
    }
    fputs("</header>\n", f);
    if (ex) {
        fprintf(f, "<section id=\"knobs\" data-example=\"%s\"><h2>Inputs</h2><p class=\"hint\">This "
                   "page was computed by the library for these inputs.  Change one to get the "
                   "command that writes the page for it:</p><div class=\"knobrow\">",
                ex->name);
        for (int i = 0; i < ex->nknobs; i++) {
            char num[40];
            adj_teach_num(num, sizeof num, k[i], 10);
            fprintf(f, "<label>%s <input type=\"text\" inputmode=\"decimal\" size=\"7\" "
                       "data-knob=\"%s\" value=\"%s\" title=\"",
                    ex->knobs[i].name, ex->knobs[i].name, num);
            adj_teach_xml(f, ex->knobs[i].help);
            fputs("\"></label> ", f);
        }
        fprintf(f, "</div><code id=\"command\">adjoint explain %s --html %s.html</code></section>\n",
                ex->name, ex->name);
    }
    fputs(adj_page_controls, f);
}

adj_status adj_teach_html(adj_tape *t, adj_var *y, FILE *f, const adj_example *ex,
                          const double *k)
{
    y = adj_h_raw(y);
    if (!t || !y || !f || adj_node_tape(y) != t)
        return ADJ_EINVAL;
    if (adj_tape_status(t) != ADJ_OK)
        return adj_tape_status(t);
    if (adj_tape_moved_param(t))
        return ADJ_ESTATE; /* its value lives in blocks the store has freed */
    page p = {.t = t, .f = f, .count = (size_t)adj_cold(y)->id + 1};
    if (p.count > MAX_NODES)
        return ADJ_EINVAL;
    p.shown = adj_teach_zalloc(t, p.count);
    p.chars = adj_teach_zalloc(t, p.count * sizeof *p.chars);
    p.sum = adj_teach_zalloc(t, p.count * sizeof *p.sum);
    p.expr = adj_teach_zalloc(t, p.count * sizeof *p.expr);
    p.ncontrib = adj_teach_zalloc(t, p.count * sizeof *p.ncontrib);
    adj_status s = ADJ_ENOMEM;
    if (!p.shown || !p.chars || !p.sum || !p.expr || !p.ncontrib)
        goto done;
    p.shown[p.count - 1] = 1;
    for (size_t id = p.count; id-- > 0;) {
        const adj_var *v = adj_node_at(t, id);
        if (p.shown[id] && !adj_is_leaf(v))
            for (int i = 0; i < adj_nin(v); i++)
                if (adj_input(v, i))
                    p.shown[adj_cold(adj_input(v, i))->id] = 1;
    }
    char title[200], ref[64];
    if (ex)
        snprintf(title, sizeof title, "%s", ex->title);
    else
        snprintf(title, sizeof title, "backward and forward sweeps of %s", adj_teach_ref(y, ref, sizeof ref));
    write_head(&p, title, y);
    const adj_teach_sink sink = {&p, on_node, on_edge, on_line};
    s = adj_teach_explain(y, NULL, &sink);
    fputs("]}],\n\"fwd\":[", f);
    int seeds = 0;
    for (size_t id = 0; id < p.count && s == ADJ_OK && !p.oom; id++) {
        adj_var *v = adj_node_at(t, id);
        if (!p.shown[id] || !adj_is_leaf(v) || !(v->flags & ADJ_F_GRAD))
            continue;
        for (size_t j = 0; j < adj_cold(v)->numel && seeds < MAX_SEEDS && !p.oom; j++)
            forward_seed(&p, v, j, seeds++ == 0);
    }
    fputs("]}", f);
    write_body(&p, title, ex ? ex->notes : NULL, ex, k);
    if (s == ADJ_OK && !p.oom)
        s = adj_teach_svg(t, p.count, p.shown, p.chars, f);
    fputs(adj_page_panel, f);
    fputs("<script>\n", f);
    fputs(adj_page_script, f);
    fputs("</script>\n</body>\n</html>\n", f);
    if (s == ADJ_OK && p.oom)
        s = ADJ_ENOMEM;
    if (s == ADJ_OK && (fflush(f) != 0 || ferror(f)))
        s = ADJ_EIO;
done:
    for (size_t id = 0; id < p.count; id++) {
        if (p.sum)
            adj_teach_free(t, p.sum[id], adj_cold(adj_node_at(t, id))->numel * sizeof(double));
        if (p.expr)
            adj_teach_free(t, p.expr[id], EXPR);
    }
    adj_teach_free(t, p.shown, p.count);
    adj_teach_free(t, p.chars, p.count * sizeof *p.chars);
    adj_teach_free(t, p.sum, p.count * sizeof *p.sum);
    adj_teach_free(t, p.expr, p.count * sizeof *p.expr);
    adj_teach_free(t, p.ncontrib, p.count * sizeof *p.ncontrib);
    return s;
}

adj_status adj_tape_html(adj_tape *tape, adj_var *output, FILE *f)
{
    output = adj_h_in(output, "adj_tape_html");
    return adj_teach_html(tape, output, f, NULL, NULL);
}

adj_status adj_example_html(const adj_example *ex, const double *knobs, FILE *f)
{
    if (!ex || !f)
        return ADJ_EINVAL;
    double k[ADJ_EXAMPLE_MAX_KNOBS];
    adj_tape *t;
    adj_var *y;
    adj_status s = adj_teach_example_tape(ex, knobs, k, &t, &y);
    if (!t)
        return s;
    if (s == ADJ_OK)
        s = adj_teach_html(t, y, f, ex, k);
    adj_tape_free(t);
    return s;
}
