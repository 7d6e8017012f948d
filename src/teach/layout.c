/*
 * The graph of the HTML page as inline SVG, laid out here rather than by
 * Graphviz so that the library needs no program at run time.  The layout
 * is the layered one `dot` draws for the DOT export (rankdir=LR): a node's
 * rank is one more than its inputs' highest, a leaf sits just left of its
 * first use, edges that skip ranks pass through invisible points of their
 * own, a few sweeps of the barycentre heuristic order each rank to cut
 * crossings, and each node is then pulled toward the height of its
 * neighbours without overlapping the others of its rank.  Shapes and
 * labels are the DOT export's.
 */
#include "teach/teach_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHAR_W 7.3   /* 12 px monospace */
#define LINE_H 15.0
#define RANK_GAP 56.0
#define NODE_GAP 22.0

typedef struct vertex {
    double x, y, w, h;  /* centre and size of the shape */
    int rank;
    int id;             /* tape node, or -1 for a point on a long edge */
    double key;
} vertex;

typedef struct edge {
    int from, to;       /* tape nodes */
    int first, n;       /* its points: pts[first .. first + n) */
} edge;

typedef struct graph {
    vertex *v;
    int nv, cap;
    edge *e;
    int ne;
    int *pts;
    int npts;
    int *vert;          /* tape node -> vertex */
} graph;

/* Width in characters of UTF-8 text, combining marks taking none. */
int adj_teach_width(const char *s)
{
    int n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        int len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        unsigned cp = len == 1 ? c : c & (0x3fu >> (len - 1));
        for (int i = 1; i < len && p[i]; i++)
            cp = cp << 6 | (p[i] & 0x3fu);
        n += !(cp >= 0x300 && cp < 0x370);
        for (int i = 0; i < len && *p; i++)
            p++;
    }
    return n;
}

/* s as XML text */
void adj_teach_xml(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '"')
            fputs("&quot;", f);
        else
            fputc(*s, f);
    }
}

static int add_vertex(graph *g, int id, int rank, double w, double h)
{
    vertex *x = &g->v[g->nv];
    memset(x, 0, sizeof *x);
    x->id = id;
    x->rank = rank;
    x->w = w;
    x->h = h;
    return g->nv++;
}

static int cmp_key(const void *a, const void *b)
{
    const vertex *const *x = a, *const *y = b;
    return (*x)->key < (*y)->key ? -1 : (*x)->key > (*y)->key;
}

/* The rank's vertices sorted by key, their keys then set to 0, 1, 2, ... */
static void sort_rank(graph *g, vertex **tmp, int rank)
{
    int n = 0;
    for (int i = 0; i < g->nv; i++)
        if (g->v[i].rank == rank)
            tmp[n++] = &g->v[i];
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_key);
    for (int i = 0; i < n; i++)
        tmp[i]->key = i;
}

/* Mean key (dir 0) or height (dir 1) of a vertex's neighbours in rank
 * r (all ranks for r < 0); NAN if it has none there. */
static double neighbours(const graph *g, int vi, int r, int height)
{
    double s = 0;
    int n = 0;
    for (int k = 0; k < g->ne; k++) {
        const edge *e = &g->e[k];
        int prev = g->vert[e->from];
        for (int i = 0; i <= e->n; i++) {
            int cur = i < e->n ? g->pts[e->first + i] : g->vert[e->to];
            int other = cur == vi ? prev : prev == vi ? cur : -1;
            if (other >= 0 && (r < 0 || g->v[other].rank == r)) {
                s += height ? g->v[other].y : g->v[other].key;
                n++;
            }
            prev = cur;
        }
    }
    return n ? s / n : NAN;
}

static void order(graph *g, vertex **tmp, int ranks)
{
    for (int i = 0; i < g->nv; i++)
        g->v[i].key = g->v[i].id >= 0 ? g->v[i].id : 1e6 + i;
    for (int r = 0; r < ranks; r++)
        sort_rank(g, tmp, r);
    for (int pass = 0; pass < 8; pass++) {
        int down = pass % 2 == 0;
        for (int s = 1; s < ranks; s++) {
            int r = down ? s : ranks - 1 - s, nb = down ? r - 1 : r + 1;
            for (int i = 0; i < g->nv; i++)
                if (g->v[i].rank == r) {
                    double m = neighbours(g, i, nb, 0);
                    /* keep the order of vertices without neighbours there */
                    g->v[i].key = isnan(m) ? g->v[i].key : m + 1e-3 * g->v[i].key;
                }
            sort_rank(g, tmp, r);
        }
    }
}

/* Heights: stacked in order, then each rank pulled toward its vertices'
 * neighbours, a few times, keeping the gaps. */
static void place(graph *g, vertex **tmp, int ranks)
{
    double x = 0;
    for (int r = 0; r < ranks; r++) {
        double wmax = 0, y = 0;
        int n = 0;
        for (int i = 0; i < g->nv; i++)
            if (g->v[i].rank == r)
                tmp[n++] = &g->v[i];
        qsort(tmp, (size_t)n, sizeof *tmp, cmp_key);
        for (int i = 0; i < n; i++) {
            wmax = fmax(wmax, tmp[i]->w);
            y += (i ? tmp[i - 1]->h / 2 + NODE_GAP : 0) + tmp[i]->h / 2;
            tmp[i]->y = y;
        }
        for (int i = 0; i < n; i++) {
            tmp[i]->x = x + wmax / 2;
            tmp[i]->y -= y / 2;
        }
        x += wmax + RANK_GAP;
    }
    for (int pass = 0; pass < 6; pass++)
        for (int r = 0; r < ranks; r++) {
            int n = 0;
            for (int i = 0; i < g->nv; i++)
                if (g->v[i].rank == r)
                    tmp[n++] = &g->v[i];
            qsort(tmp, (size_t)n, sizeof *tmp, cmp_key);
            double shift = 0;
            for (int i = 0; i < n; i++) {
                double want = neighbours(g, (int)(tmp[i] - g->v), -1, 1);
                if (isnan(want))
                    want = tmp[i]->y;
                double low = i ? tmp[i - 1]->y + (tmp[i - 1]->h + tmp[i]->h) / 2 + NODE_GAP : -1e9;
                double y = fmax(want, low);
                shift += want - y;
                tmp[i]->y = y;
            }
            for (int i = 0; i < n; i++)
                tmp[i]->y += shift / n;
        }
}

/* Half the width of a node's shape, where edges meet it. */
static double half(const graph *g, int id)
{
    return g->v[g->vert[id]].w / 2;
}

static void shape(FILE *f, const adj_var *v, bool out, const vertex *p)
{
    double x0 = p->x - p->w / 2, y0 = p->y - p->h / 2;
    if (adj_is_leaf(v)) {
        fprintf(f, "<rect class=\"shape\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"%d\"/>",
                x0, y0, p->w, p->h, (v->flags & ADJ_F_EXTGRAD) ? 8 : 2);
    } else if (out) {
        for (int ring = 0; ring < 2; ring++) {
            double d = ring * 4, w = p->w / 2 - d, h = p->h / 2 - d, c = fmin(h * 0.6, 12);
            fprintf(f, "<polygon class=\"shape%s\" points=\"", ring ? " inner" : "");
            const double px[8] = {-w + c, w - c, w, w, w - c, -w + c, -w, -w};
            const double py[8] = {-h, -h, -h + c, h - c, h, h, h - c, -h + c};
            for (int i = 0; i < 8; i++)
                fprintf(f, "%s%.1f,%.1f", i ? " " : "", p->x + px[i], p->y + py[i]);
            fputs("\"/>", f);
        }
    } else {
        fprintf(f, "<ellipse class=\"shape\" cx=\"%.1f\" cy=\"%.1f\" rx=\"%.1f\" ry=\"%.1f\"/>",
                p->x, p->y, p->w / 2, p->h / 2);
    }
}

static const char *kind(const adj_var *v, bool out)
{
    if (adj_is_leaf(v))
        return (v->flags & ADJ_F_EXTGRAD) ? "param" : (v->flags & ADJ_F_GRAD) ? "input" : "const";
    return out ? "out" : "op";
}

/* The label's fixed lines: definition, shape (tensors), value. */
static int label_lines(const adj_var *v, char lines[3][420])
{
    char ref[64], def[160], sh[40], val[400];
    adj_teach_ref(v, ref, sizeof ref);
    adj_teach_define(v, def, sizeof def);
    if (adj_is_leaf(v))
        snprintf(lines[0], sizeof lines[0], "%s (%s)", ref, def);
    else
        snprintf(lines[0], sizeof lines[0], "%s = %s", ref, def);
    int n = 1;
    if (adj_cold(v)->numel != 1) {
        adj_fmt_shape(sh, sizeof sh, v->ndim, adj_cold(v)->shape);
        snprintf(lines[n++], sizeof lines[0], "shape %s", sh);
    }
    adj_teach_values(v, 0, 5, val, sizeof val);
    snprintf(lines[n++], sizeof lines[0], "value %s", val);
    return n;
}

static void write_svg(FILE *f, adj_tape *t, const graph *g, size_t count, const unsigned char *shown)
{
    double x0 = 1e9, y0 = 1e9, x1 = -1e9, y1 = -1e9;
    for (int i = 0; i < g->nv; i++) {
        x0 = fmin(x0, g->v[i].x - g->v[i].w / 2);
        x1 = fmax(x1, g->v[i].x + g->v[i].w / 2);
        y0 = fmin(y0, g->v[i].y - g->v[i].h / 2 - 16);
        y1 = fmax(y1, g->v[i].y + g->v[i].h / 2);
    }
    x0 -= 8, y0 -= 8, x1 += 8, y1 += 8;
    fprintf(f, "<svg id=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"%.0f %.0f %.0f %.0f\" "
               "width=\"%.0f\" height=\"%.0f\" role=\"img\" aria-label=\"computation graph\">\n"
               "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerUnits=\"userSpaceOnUse\" "
               "markerWidth=\"9\" markerHeight=\"9\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\"/></marker></defs>\n",
            x0, y0, x1 - x0, y1 - y0, x1 - x0, y1 - y0);
    for (int k = 0; k < g->ne; k++) {
        const edge *e = &g->e[k];
        const adj_var *c = adj_node_at(t, (size_t)e->to), *a = adj_node_at(t, (size_t)e->from);
        const vertex *pa = &g->v[g->vert[e->from]], *pc = &g->v[g->vert[e->to]];
        double px = pa->x + half(g, e->from), py = pa->y;
        fprintf(f, "<g class=\"edge%s\" id=\"e%d_%d\"><path d=\"M%.1f,%.1f", (a->flags & ADJ_F_GRAD) ? "" : " nograd",
                e->from, e->to, px, py);
        for (int i = 0; i <= e->n; i++) {
            const vertex *q = i < e->n ? &g->v[g->pts[e->first + i]] : pc;
            double qx = i < e->n ? q->x : q->x - half(g, e->to), qy = q->y, dx = (qx - px) / 2;
            fprintf(f, " C%.1f,%.1f %.1f,%.1f %.1f,%.1f", px + dx, py, qx - dx, qy, qx, qy);
            px = qx, py = qy;
        }
        fputs("\" marker-end=\"url(#arrow)\"/>", f);
        /* the local partial, as the DOT export labels scalar edges */
        double l[3] = {0, 0, 0};
        double *lp[3] = {&l[0], &l[1], &l[2]};
        bool scalar = adj_cold(c)->numel == 1;
        for (int i = 0; i < adj_nin(c); i++)
            if (adj_input(c, i) && (adj_cold(adj_input(c, i))->numel != 1 || i >= 3))
                scalar = false;
        if (scalar && (a->flags & ADJ_F_GRAD) && adj_teach_replay((adj_var *)c, 1, lp)) {
            int slot = c->in[0] == a ? 0 : c->in[1] == a ? 1 : 2;
            char num[40];
            adj_teach_num(num, sizeof num, l[slot], 5);
            const vertex *from = e->n ? &g->v[g->pts[e->first + e->n - 1]] : pa;
            double lx = e->n ? from->x : from->x + half(g, e->from);
            fprintf(f, "<text class=\"elabel\" x=\"%.1f\" y=\"%.1f\">∂ %s</text>",
                    (lx + pc->x - half(g, e->to)) / 2, (from->y + pc->y) / 2 - 5, num);
        }
        fputs("</g>\n", f);
    }
    for (size_t id = 0; id < count; id++) {
        if (!shown[id])
            continue;
        const adj_var *v = adj_node_at(t, id);
        const vertex *p = &g->v[g->vert[id]];
        bool out = id + 1 == count;
        char lines[3][420];
        int n = label_lines(v, lines);
        fprintf(f, "<g class=\"node %s\" id=\"n%zu\" data-id=\"%zu\">", kind(v, out), id, id);
        shape(f, v, out, p);
        double y = p->y - (n + 1) * LINE_H / 2 + LINE_H * 0.75;
        for (int i = 0; i < n; i++, y += LINE_H) {
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\"%s>", p->x, y, i ? "" : " class=\"def\"");
            adj_teach_xml(f, lines[i]);
            fputs("</text>", f);
        }
        fprintf(f, "<text class=\"dyn\" id=\"d%zu\" x=\"%.1f\" y=\"%.1f\">%s</text>", id, p->x, y,
                (v->flags & ADJ_F_GRAD) ? "adjoint ·" : "constant: no adjoint");
        fprintf(f, "<text class=\"badge\" id=\"b%zu\" x=\"%.1f\" y=\"%.1f\"></text></g>\n", id, p->x,
                p->y - p->h / 2 - 5);
    }
    fputs("</svg>\n", f);
}

/* The k-th input of v, or NULL if absent or seen before (x · x: one edge). */
static const adj_var *edge_input(const adj_var *v, int k)
{
    const adj_var *a = adj_input(v, k);
    for (int j = 0; a && j < k; j++)
        if (adj_input(v, j) == a)
            return NULL;
    return a;
}

adj_status adj_teach_svg(adj_tape *t, size_t count, const unsigned char *shown, const int *chars,
                         FILE *f)
{
    graph g = {0};
    int nedges = 0, nshown = 0, npts = 0, ranks = 1;
    for (size_t id = 0; id < count; id++) {
        const adj_var *v = adj_node_at(t, id);
        nshown += shown[id] != 0;
        if (shown[id] && !adj_is_leaf(v))
            nedges += adj_nin(v);
    }
    size_t rank_bytes = count * sizeof(int), e_bytes = ((size_t)nedges + 1) * sizeof *g.e;
    size_t v_bytes = 0, pts_bytes = 0, tmp_bytes = 0;
    int *rank = adj_teach_zalloc(t, rank_bytes);
    g.vert = adj_teach_zalloc(t, rank_bytes);
    g.e = adj_teach_zalloc(t, e_bytes);
    vertex **tmp = NULL;
    adj_status s = ADJ_ENOMEM;
    if (!rank || !g.vert || !g.e)
        goto done;
    for (size_t id = 0; id < count; id++) {
        const adj_var *v = adj_node_at(t, id);
        if (!shown[id] || adj_is_leaf(v))
            continue;
        for (int k = 0; k < adj_nin(v); k++)
            if (adj_input(v, k) && rank[adj_cold(adj_input(v, k))->id] + 1 > rank[id])
                rank[id] = rank[adj_cold(adj_input(v, k))->id] + 1;
        ranks = rank[id] + 1 > ranks ? rank[id] + 1 : ranks;
    }
    /* a leaf sits just left of its first use */
    for (size_t id = 0; id < count; id++)
        if (adj_is_leaf(adj_node_at(t, id)))
            rank[id] = -1;
    for (size_t id = 0; id < count; id++) {
        const adj_var *v = adj_node_at(t, id);
        if (!shown[id] || adj_is_leaf(v))
            continue;
        for (int k = 0; k < adj_nin(v); k++) {
            const adj_var *a = adj_input(v, k);
            if (a && adj_is_leaf(a)) {
                int *r = &rank[adj_cold(a)->id];
                if (*r < 0 || rank[id] - 1 < *r)
                    *r = rank[id] - 1;
            }
        }
    }
    for (size_t id = 0; id < count; id++)
        rank[id] = rank[id] < 0 ? 0 : rank[id];
    /* the points that carry edges across the ranks they skip */
    for (size_t id = 0; id < count; id++) {
        const adj_var *v = adj_node_at(t, id);
        for (int k = 0; shown[id] && !adj_is_leaf(v) && k < adj_nin(v); k++)
            if (edge_input(v, k) && rank[id] - rank[adj_cold(edge_input(v, k))->id] > 1)
                npts += rank[id] - rank[adj_cold(edge_input(v, k))->id] - 1;
    }
    g.cap = nshown + npts + 1;
    v_bytes = (size_t)g.cap * sizeof *g.v;
    pts_bytes = (size_t)g.cap * sizeof *g.pts;
    tmp_bytes = (size_t)g.cap * sizeof *tmp;
    g.v = adj_teach_zalloc(t, v_bytes);
    g.pts = adj_teach_zalloc(t, pts_bytes);
    tmp = adj_teach_zalloc(t, tmp_bytes);
    if (!g.v || !g.pts || !tmp)
        goto done;
    for (size_t id = 0; id < count; id++) {
        if (!shown[id])
            continue;
        const adj_var *v = adj_node_at(t, id);
        char lines[3][420];
        int n = label_lines(v, lines), w = chars[id];
        for (int i = 0; i < n; i++)
            w = adj_teach_width(lines[i]) > w ? adj_teach_width(lines[i]) : w;
        double bw = w * CHAR_W + 16, bh = (n + 1) * LINE_H + 8;
        if (!adj_is_leaf(v)) /* an ellipse or octagon around the text */
            bw *= 1.12, bh *= 1.32;
        g.vert[id] = add_vertex(&g, (int)id, rank[id], bw, bh);
    }
    for (size_t id = 0; id < count; id++) {
        const adj_var *v = adj_node_at(t, id);
        if (!shown[id] || adj_is_leaf(v))
            continue;
        for (int k = 0; k < adj_nin(v); k++) {
            const adj_var *a = edge_input(v, k);
            if (!a)
                continue;
            edge *e = &g.e[g.ne++];
            e->from = (int)adj_cold(a)->id;
            e->to = (int)id;
            e->first = g.npts;
            for (int r = rank[e->from] + 1; r < rank[id]; r++)
                g.pts[g.npts++] = add_vertex(&g, -1, r, 0, 10);
            e->n = g.npts - e->first;
        }
    }
    order(&g, tmp, ranks);
    place(&g, tmp, ranks);
    write_svg(f, t, &g, count, shown);
    s = ADJ_OK;
done:
    adj_teach_free(t, rank, rank_bytes);
    adj_teach_free(t, g.vert, rank_bytes);
    adj_teach_free(t, g.e, e_bytes);
    adj_teach_free(t, g.v, v_bytes);
    adj_teach_free(t, g.pts, pts_bytes);
    adj_teach_free(t, tmp, tmp_bytes);
    return s;
}
