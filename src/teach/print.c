/*
 * The tape as a table (the notes' "x1 = x, a = x², …" list with values and
 * adjoints) and as JSON.
 */
#include "teach/teach_int.h"

#include <math.h>
#include <string.h>

/* Display width of a UTF-8 string: one column per code point. */
static int width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* Print s left-aligned in w columns. */
static void cell(FILE *out, const char *s, int w)
{
    int pad = w - width(s);
    fputs(s, out);
    while (pad-- > 0)
        fputc(' ', out);
}

typedef struct row {
    char ref[64], def[160], ins[40], shape[40];
} row;

static void fill(const adj_var *v, row *r)
{
    char left[64];
    adj_teach_ref(v, left, sizeof left);
    snprintf(r->ref, sizeof r->ref, "%s", left);
    adj_teach_define(v, r->def, sizeof r->def);
    r->ins[0] = '\0';
    size_t n = 0;
    for (int k = 0; k < adj_nin(v) && !adj_is_leaf(v); k++)
        if (adj_input(v, k) && n < sizeof r->ins)
            n += (size_t)snprintf(r->ins + n, sizeof r->ins - n, "%s%u", n ? "," : "",
                                  adj_cold(adj_input(v, k))->id);
    if (!r->ins[0])
        snprintf(r->ins, sizeof r->ins, "-");
    adj_fmt_shape(r->shape, sizeof r->shape, v->ndim, adj_cold(v)->shape);
}

adj_status adj_tape_print(const adj_tape *t, FILE *out)
{
    if (!t || !out)
        return ADJ_EINVAL;
    if (adj_tape_moved_param(t))
        return ADJ_ESTATE; /* its value lives in blocks the store has freed */
    size_t n = t->nnodes;
    int wref = 4, wdef = 10, wins = 6, wshape = 5, wval = 5;
    row r;
    char val[400], adj[400];
    /* column widths from every row (definitions capped) */
    for (size_t id = 0; id < n; id++) {
        fill(adj_node_at(t, id), &r);
        wref = width(r.ref) > wref ? width(r.ref) : wref;
        wdef = width(r.def) > wdef ? width(r.def) : wdef;
        wins = width(r.ins) > wins ? width(r.ins) : wins;
        wshape = width(r.shape) > wshape ? width(r.shape) : wshape;
        adj_teach_values(adj_node_at(t, id), 0, 6, val, sizeof val);
        wval = width(val) > wval ? width(val) : wval;
    }
    wval = wval > 36 ? 36 : wval;
    wdef = wdef > 40 ? 40 : wdef;
    int wid = 2;
    for (size_t m = n; m >= 10; m /= 10)
        wid++;
    fprintf(out, "tape: %zu node%s", n, n == 1 ? "" : "s");
    if (t->status != ADJ_OK)
        fprintf(out, " (error: %s)", t->msg);
    fputc('\n', out);
    fprintf(out, "%*s  ", wid, "id");
    cell(out, "node", wref);
    fputs("   ", out);
    cell(out, "definition", wdef);
    fputs("  ", out);
    cell(out, "inputs", wins);
    fputs("  ", out);
    cell(out, "shape", wshape);
    fputs("  ", out);
    cell(out, "value", wval);
    fputs("  adjoint\n", out);
    for (size_t id = 0; id < n; id++) {
        const adj_var *v = adj_node_at(t, id);
        fill(v, &r);
        adj_teach_values(v, 0, 6, val, sizeof val);
        adj_teach_values(v, 1, 6, adj, sizeof adj);
        fprintf(out, "%*zu  ", wid, id);
        cell(out, r.ref, wref);
        fputs(" = ", out);
        cell(out, r.def, wdef);
        fputs("  ", out);
        cell(out, r.ins, wins);
        fputs("  ", out);
        cell(out, r.shape, wshape);
        fputs("  ", out);
        cell(out, val, wval);
        fprintf(out, "  %s\n", adj);
    }
    return fflush(out) != 0 || ferror(out) ? ADJ_EIO : ADJ_OK;
}

/* ------------------------------------------------------------------ JSON */

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

/* v's values (src NULL: through v's layout) or its adjoint src */
static void json_array(FILE *out, const adj_var *v, const void *src)
{
    fputc('[', out);
    for (size_t i = 0; i < adj_cold(v)->numel; i++) {
        double e = src ? adj_elem_get(src, v->dtype, i) : adj_var_elem(v, i);
        if (e == 0)
            e = 0;
        if (isfinite(e))
            fprintf(out, "%s%.17g", i ? ", " : "", e);
        else
            fprintf(out, "%snull", i ? ", " : "");
    }
    fputc(']', out);
}

adj_status adj_tape_json(const adj_tape *t, int all, FILE *out)
{
    if (!t || !out)
        return ADJ_EINVAL;
    if (adj_tape_moved_param(t))
        return ADJ_ESTATE; /* its value lives in blocks the store has freed */
    int first = 1;
    fputs("{\"nodes\": [", out);
    for (size_t id = 0; id < t->nnodes; id++) {
        const adj_var *v = adj_node_at(t, id);
        if (!all && !adj_node_name(v))
            continue;
        char def[160];
        adj_teach_define(v, def, sizeof def);
        fprintf(out, "%s\n  {\"id\": %zu, \"name\": ", first ? "" : ",", id);
        if (adj_node_name(v))
            json_string(out, adj_node_name(v));
        else
            fputs("null", out);
        fprintf(out, ", \"op\": \"%s\", \"definition\": ", adj_op_table[v->op]->name);
        json_string(out, def);
        fputs(", \"shape\": [", out);
        for (int i = 0; i < v->ndim; i++)
            fprintf(out, "%s%lld", i ? ", " : "", (long long)adj_cold(v)->shape[i]);
        fputs("], \"value\": ", out);
        json_array(out, v, NULL);
        fputs(", \"grad\": ", out);
        if (adj_grad_for_read(v))
            json_array(out, v, v->grad);
        else
            fputs("null", out);
        fputc('}', out);
        first = 0;
    }
    fputs("\n]}\n", out);
    return fflush(out) != 0 || ferror(out) ? ADJ_EIO : ADJ_OK;
}
