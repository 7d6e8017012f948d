/*
 * Graphviz DOT of the tape.  Leaves that want a gradient (inputs and
 * parameters) are boxes, constants dashed boxes, intermediate results
 * ellipses, the last node a double ellipse.  Scalar edges carry the local
 * partial derivative, found by replaying the consumer's backward with a
 * unit adjoint (nothing on the tape changes).
 */
#include "teach/teach_int.h"

#include <string.h>

/* s inside a double-quoted DOT string */
static void dot_escape(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
}

static bool scalar_edges(const adj_var *v)
{
    if (adj_cold(v)->numel != 1 || adj_is_leaf(v))
        return false;
    for (int k = 0; k < adj_nin(v); k++) /* labels for up to three inputs */
        if (k >= 3 || (adj_input(v, k) && adj_cold(adj_input(v, k))->numel != 1))
            return false;
    return true;
}

adj_status adj_tape_dot(const adj_tape *t, FILE *out)
{
    if (!t || !out)
        return ADJ_EINVAL;
    if (adj_tape_moved_param(t))
        return ADJ_ESTATE; /* its value lives in blocks the store has freed */
    size_t n = t->nnodes;
    fputs("digraph tape {\n"
          "    rankdir=LR;\n"
          "    node [fontname=\"Helvetica\", fontsize=11];\n"
          "    edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];\n",
          out);
    for (size_t id = 0; id < n; id++) {
        const adj_var *v = adj_node_at(t, id);
        char ref[64], def[160], sh[40], val[400], adj[400];
        adj_teach_ref(v, ref, sizeof ref);
        adj_teach_define(v, def, sizeof def);
        adj_fmt_shape(sh, sizeof sh, v->ndim, adj_cold(v)->shape);
        adj_teach_values(v, 0, 5, val, sizeof val);
        adj_teach_values(v, 1, 5, adj, sizeof adj);
        const char *style;
        if (adj_is_leaf(v) && (v->flags & ADJ_F_GRAD))
            style = (v->flags & ADJ_F_EXTGRAD)
                        ? "shape=box, style=\"filled,rounded\", fillcolor=\"#cfe2f3\""
                        : "shape=box, style=filled, fillcolor=\"#d9ead3\"";
        else if (adj_is_leaf(v))
            style = "shape=box, style=dashed, color=\"#888888\", fontcolor=\"#555555\"";
        else if (id + 1 == n)
            style = "shape=doubleoctagon, style=filled, fillcolor=\"#fce5cd\"";
        else
            style = "shape=ellipse";
        fprintf(out, "    n%zu [%s, label=\"", id, style);
        dot_escape(out, ref);
        fputs(adj_is_leaf(v) ? " (" : " = ", out);
        dot_escape(out, def);
        fputs(adj_is_leaf(v) ? ")" : "", out);
        if (adj_cold(v)->numel != 1) {
            fputs("\\n", out);
            dot_escape(out, sh);
        }
        fputs("\\nvalue ", out);
        dot_escape(out, val);
        if (v->grad) {
            fputs("\\nadjoint ", out);
            dot_escape(out, adj);
        }
        fputs("\"];\n", out);
    }
    for (size_t id = 0; id < n; id++) {
        adj_var *v = adj_node_at(t, id);
        if (adj_is_leaf(v))
            continue;
        double l[3] = {0, 0, 0};
        double *lp[3] = {&l[0], &l[1], &l[2]};
        bool labels = scalar_edges(v) && adj_teach_replay(v, 1, lp);
        for (int k = 0; k < adj_nin(v); k++) {
            const adj_var *a = adj_input(v, k);
            bool dup = false; /* one edge per distinct input */
            for (int j = 0; j < k; j++)
                dup |= adj_input(v, j) == a;
            if (!a || dup)
                continue;
            fprintf(out, "    n%u -> n%zu", adj_cold(a)->id, id);
            if (labels && (a->flags & ADJ_F_GRAD)) {
                char num[40];
                adj_teach_num(num, sizeof num, l[k < 3 ? k : 0], 5);
                fprintf(out, " [label=\"∂ %s\"]", num);
            } else if (!(a->flags & ADJ_F_GRAD)) {
                fputs(" [style=dashed]", out);
            }
            fputs(";\n", out);
        }
    }
    fputs("}\n", out);
    return fflush(out) != 0 || ferror(out) ? ADJ_EIO : ADJ_OK;
}
