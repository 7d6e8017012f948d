/*
 * The driver of the PyTorch agreement check: reads cases on stdin, writes
 * results on stdout, one block per case (protocol in torch_agree.py).
 * Any malformed input ends the program with status 2 and a message.
 */
#include "agree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_INPUTS = 8, MAX_ATTRS = 16, MAX_EXTRAS = 8, NAME = 64 };

typedef struct agree_input {
    char name[NAME];
    int present;
    int ndim;
    int64_t shape[ADJ_MAX_DIMS];
    size_t numel;
    double *data;
    adj_var *leaf;          /* set by agree_var: its gradient is printed */
} agree_input;

struct agree_ctx {
    adj_tape *tape;
    char op[NAME], label[256];
    int ninputs, nattrs, nextras;
    agree_input in[MAX_INPUTS];
    char attr_key[MAX_ATTRS][NAME];
    double attr_val[MAX_ATTRS];
    size_t nseed;
    double *seed;
    struct {
        char name[NAME];
        const double *v;
        size_t n;
    } extra[MAX_EXTRAS];
};

static const agree_entry *const families[] = {agree_core_ops, agree_norm_ops, agree_conv_ops,
                                              agree_attn_ops, agree_tensorops_ops,
                                              agree_bmm_ops};

static void die(const char *what, const char *tok)
{
    fprintf(stderr, "agree: malformed input: %s%s%s\n", what, tok ? " at " : "", tok ? tok : "");
    exit(2);
}

static void word(char *buf, const char *what)
{
    if (scanf("%63s", buf) != 1)
        die(what, NULL);
}

static double number(void)
{
    char tok[NAME];
    word(tok, "a number");
    char *end;
    double v = strtod(tok, &end);
    if (*end)
        die("a number", tok);
    return v;
}

static agree_input *find(const agree_ctx *c, const char *name)
{
    for (int i = 0; i < c->ninputs; i++)
        if (!strcmp(c->in[i].name, name))
            return (agree_input *)&c->in[i];
    return NULL;
}

adj_tape *agree_tape(agree_ctx *c) { return c->tape; }

int agree_has(const agree_ctx *c, const char *name)
{
    const agree_input *in = find(c, name);
    return in && in->present;
}

static adj_var *make(agree_ctx *c, const char *name, int grad)
{
    agree_input *in = find(c, name);
    if (!in || !in->present)
        return NULL;
    adj_var *v = adj_leaf_at(c->tape, ADJ_F64, in->ndim, in->shape, in->data, grad, __FILE__,
                             __LINE__);
    if (grad)
        in->leaf = v;
    return v;
}

adj_var *agree_var(agree_ctx *c, const char *name) { return make(c, name, 1); }
adj_var *agree_const(agree_ctx *c, const char *name) { return make(c, name, 0); }

double *agree_data(agree_ctx *c, const char *name, int *ndim, int64_t *shape)
{
    agree_input *in = find(c, name);
    if (!in || !in->present)
        return NULL;
    if (ndim)
        *ndim = in->ndim;
    if (shape)
        memcpy(shape, in->shape, sizeof in->shape);
    return in->data;
}

double agree_attr(const agree_ctx *c, const char *key, double dflt)
{
    for (int i = 0; i < c->nattrs; i++)
        if (!strcmp(c->attr_key[i], key))
            return c->attr_val[i];
    return dflt;
}

void agree_extra(agree_ctx *c, const char *name, const double *v, size_t n)
{
    if (c->nextras == MAX_EXTRAS)
        die("too many extras", name);
    snprintf(c->extra[c->nextras].name, NAME, "%s", name);
    c->extra[c->nextras].v = v;
    c->extra[c->nextras].n = n;
    c->nextras++;
}

static void print_values(const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf(" %.17g", v[i]);
    printf("\n");
}

/* Reads one case after its "case" word; false at the end of the input. */
static int read_case(agree_ctx *c)
{
    char tok[NAME];
    if (scanf("%63s", tok) != 1)
        return 0;
    if (strcmp(tok, "case"))
        die("expected \"case\"", tok);
    if (scanf("%255s", c->label) != 1)
        die("a case label", NULL);
    for (;;) {
        word(tok, "a keyword");
        if (!strcmp(tok, "end"))
            return 1;
        if (!strcmp(tok, "op")) {
            word(c->op, "an op name");
        } else if (!strcmp(tok, "attr")) {
            if (c->nattrs == MAX_ATTRS)
                die("too many attributes", NULL);
            word(c->attr_key[c->nattrs], "an attribute name");
            c->attr_val[c->nattrs++] = number();
        } else if (!strcmp(tok, "input") || !strcmp(tok, "absent")) {
            if (c->ninputs == MAX_INPUTS)
                die("too many inputs", NULL);
            agree_input *in = &c->in[c->ninputs++];
            word(in->name, "an input name");
            in->present = !strcmp(tok, "input");
            if (!in->present)
                continue;
            in->ndim = (int)number();
            if (in->ndim < 0 || in->ndim > ADJ_MAX_DIMS)
                die("an input's ndim", in->name);
            in->numel = 1;
            for (int d = 0; d < in->ndim; d++) {
                in->shape[d] = (int64_t)number();
                in->numel *= (size_t)in->shape[d];
            }
            in->data = calloc(in->numel ? in->numel : 1, sizeof(double));
            if (!in->data)
                die("out of memory", NULL);
            for (size_t i = 0; i < in->numel; i++)
                in->data[i] = number();
        } else if (!strcmp(tok, "seed")) {
            c->nseed = (size_t)number();
            c->seed = calloc(c->nseed ? c->nseed : 1, sizeof(double));
            if (!c->seed)
                die("out of memory", NULL);
            for (size_t i = 0; i < c->nseed; i++)
                c->seed[i] = number();
        } else {
            die("unknown keyword", tok);
        }
    }
}

static agree_build lookup(const char *op)
{
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
        for (const agree_entry *e = families[f]; e->op; e++)
            if (!strcmp(e->op, op))
                return e->build;
    return NULL;
}

static void run_case(agree_ctx *c)
{
    printf("case %s\n", c->label);
    agree_build build = lookup(c->op);
    if (!build) {
        printf("error unknown-op no builder for op %s\nend\n", c->op);
        return;
    }
    c->tape = adj_tape_new();
    if (!c->tape)
        die("out of memory", NULL);
    adj_var *y = build(c);
    adj_status st = adj_tape_status(c->tape);
    if (st == ADJ_OK && !y)
        printf("error null the builder returned NULL\nend\n");
    else if (st == ADJ_OK && c->nseed != adj_numel(y))
        printf("error seed the seed has %zu values, the output %zu\nend\n", c->nseed,
               adj_numel(y));
    else if (st == ADJ_OK)
        st = adj_backward_seeded(y, c->seed);
    if (st != ADJ_OK) {
        printf("error %s %s\nend\n", adj_status_string(st), adj_tape_message(c->tape));
    } else if (y && c->nseed == adj_numel(y)) {
        size_t n = adj_numel(y);
        double *v = calloc(n ? n : 1, sizeof(double));
        if (!v)
            die("out of memory", NULL);
        adj_copy_value(y, v);
        printf("out %d", adj_ndim(y));
        for (int d = 0; d < adj_ndim(y); d++)
            printf(" %lld", (long long)adj_dim(y, d));
        print_values(v, n);
        free(v);
        for (int i = 0; i < c->ninputs; i++) {
            agree_input *in = &c->in[i];
            if (!in->leaf)
                continue;
            double *g = calloc(in->numel ? in->numel : 1, sizeof(double));
            if (!g)
                die("out of memory", NULL);
            adj_copy_grad(in->leaf, g);
            printf("grad %s %zu", in->name, in->numel);
            print_values(g, in->numel);
            free(g);
        }
        for (int i = 0; i < c->nextras; i++) {
            printf("extra %s %zu", c->extra[i].name, c->extra[i].n);
            print_values(c->extra[i].v, c->extra[i].n);
        }
        printf("end\n");
    }
    adj_tape_free(c->tape);
}

int main(void)
{
    for (;;) {
        agree_ctx *c = calloc(1, sizeof *c);
        if (!c)
            die("out of memory", NULL);
        int more = read_case(c);
        if (more)
            run_case(c);
        for (int i = 0; i < c->ninputs; i++)
            free(c->in[i].data);
        free(c->seed);
        free(c);
        if (!more)
            break;
    }
    fflush(stdout);
    return 0;
}
