/*
 * Recurrent layers (include/adjoint/rnn.h): RNN, LSTM and GRU steps as
 * compositions of public ops, and their unrolling over time on the tape.
 */
#include "nn/nn_internal.h"
#include "adjoint/rnn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const NAMES[ADJ_RNN_KIND_COUNT] = {"rnn", "lstm", "gru"};
static const int GATES[ADJ_RNN_KIND_COUNT] = {1, 4, 3};

const char *adj_rnn_kind_name(adj_rnn_kind k)
{
    return (unsigned)k < ADJ_RNN_KIND_COUNT ? NAMES[k] : "?";
}

int adj_rnn_gates(adj_rnn_kind k) { return (unsigned)k < ADJ_RNN_KIND_COUNT ? GATES[k] : 0; }

adj_status adj_rnn_add(adj_params *p, const char *prefix, int layer, adj_rnn_kind kind,
                       int64_t input, int64_t hidden, adj_rng *rng, adj_rnn *l, adj_error *err)
{
    static const char *fn = "adj_rnn_add";
    if (!p || !l)
        return adj_err_set(err, ADJ_EINVAL, "%s: NULL %s", fn, p ? "layer" : "store");
    if ((unsigned)kind >= ADJ_RNN_KIND_COUNT || layer < 0 || layer > 9999 || input < 1 ||
        hidden < 1 || input > (int64_t)1 << 24 || hidden > (int64_t)1 << 24)
        return adj_err_set(err, ADJ_EINVAL, "%s: kind %d, layer %d, input %lld, hidden %lld", fn,
                           (int)kind, layer, (long long)input, (long long)hidden);
    int64_t g = GATES[kind] * hidden;
    const char *pre = prefix ? prefix : "";
    char nm[4][160];
    snprintf(nm[0], sizeof nm[0], "%sweight_ih_l%d", pre, layer);
    snprintf(nm[1], sizeof nm[1], "%sweight_hh_l%d", pre, layer);
    snprintf(nm[2], sizeof nm[2], "%sbias_ih_l%d", pre, layer);
    snprintf(nm[3], sizeof nm[3], "%sbias_hh_l%d", pre, layer);
    int64_t shapes[4][2] = {{g, input}, {g, hidden}, {g, 0}, {g, 0}};
    int idx[4];
    for (int k = 0; k < 4; k++) {
        idx[k] = adj_params_add(p, nm[k], k < 2 ? 2 : 1, shapes[k]);
        if (idx[k] < 0)
            return adj_err_set(err, adj_params_status(p), "%s: %s", fn, adj_params_message(p));
    }
    /* PyTorch: every tensor U(-1/sqrt(H), 1/sqrt(H)) */
    double a = 1.0 / sqrt((double)hidden);
    for (int k = 0; rng && k < 4; k++) {
        size_t n = adj_params_tensor_numel(p, idx[k]);
        void *v = adj_params_value(p, idx[k]);
        for (size_t i = 0; i < n; i++) {
            double u = adj_rng_uniform_range(rng, -a, a);
            if (adj_params_dtype(p) == ADJ_F64)
                ((double *)v)[i] = u;
            else
                ((float *)v)[i] = (float)u;
        }
    }
    *l = (adj_rnn){kind, input, hidden, idx[0], idx[1], idx[2], idx[3]};
    adj_err_clear(err);
    return ADJ_OK;
}

/* The input product's bias: b_ih + b_hh where every gate sums both biases
 * (RNN, LSTM), so the state's product of each step takes none (one column
 * sum of the bias adjoint over all the steps instead of one per step);
 * b_ih for the GRU, whose n gate scales W_hn h + b_hn by r. */
static adj_var *input_bias(adj_params *p, const adj_rnn *l, adj_tape *t)
{
    adj_var *b = adj_param(t, p, l->b_ih);
    return l->kind == ADJ_RNN_GRU ? b : adj_add(b, adj_param(t, p, l->b_hh));
}

/* One step from the input's gate pre-activations gx (B, G*H), which hold
 * the biases input_bias gives, and the state's weight w (W_hh or a view
 * with its values). */
static adj_var *step(adj_params *p, const adj_rnn *l, adj_var *w, adj_var *gx, adj_var *h,
                     adj_var *c, adj_var **c_out)
{
    adj_tape *t = adj_var_tape(gx);
    switch (l->kind) {
    case ADJ_RNN_TANH:
        return adj_tanh(adj_linear_add(h, w, NULL, gx));
    case ADJ_RNN_LSTM: {
        /* gx + h W_hh^T in one node, then the gates in one op: y (2, B, H)
         * holds h' and c' */
        adj_var *y = adj_lstm_cell(adj_linear_add(h, w, NULL, gx), c);
        if (c_out)
            *c_out = adj_select(y, 0, 1);
        return adj_select(y, 0, 0);
    }
    default: /* GRU: the gates in one op, from both sets of pre-activations */
        return adj_gru_cell(gx, adj_linear(h, w, adj_param(t, p, l->b_hh)), h);
    }
}

/* The checks shared by the cell and the sequence: the tape to fail on, or
 * NULL when there is none. */
static adj_tape *check(const char *fn, adj_params *p, const adj_rnn *l, adj_var *x, adj_var *h,
                       adj_var *c, int need_c)
{
    adj_tape *t = x ? adj_var_tape(x) : h ? adj_var_tape(h) : NULL;
    if (!t)
        return NULL;
    if (adj_tape_status(t) != ADJ_OK)
        return t;
    if (!p || !l || !x || (need_c && l->kind == ADJ_RNN_LSTM && !c))
        adj_tape_fail(t, ADJ_EINVAL, "%s: NULL %s", fn,
                      !p ? "store" : !l ? "layer" : !x ? "x" : "c (an LSTM needs it)");
    else if ((unsigned)l->kind >= ADJ_RNN_KIND_COUNT || l->w_ih < 0 || l->w_hh < 0 || l->b_ih < 0 ||
             l->b_hh < 0 || l->w_ih >= adj_params_count(p) || l->w_hh >= adj_params_count(p) ||
             l->b_ih >= adj_params_count(p) || l->b_hh >= adj_params_count(p))
        adj_tape_fail(t, ADJ_EINVAL, "%s: the layer does not belong to the store", fn);
    return t;
}

adj_var *adj_rnn_cell(adj_params *p, const adj_rnn *l, adj_var *x, adj_var *h, adj_var *c,
                      adj_var **c_out)
{
    if (c_out)
        *c_out = NULL;
    x = adj_h_in(x, "adj_rnn_cell");
    h = adj_h_in(h, "adj_rnn_cell");
    c = adj_h_in(c, "adj_rnn_cell");
    adj_tape *t = check("adj_rnn_cell", p, l, x, h, c, 1);
    if (!t)
        return NULL;
    if (!h && adj_tape_status(t) == ADJ_OK)
        adj_tape_fail(t, ADJ_EINVAL, "adj_rnn_cell: NULL h");
    if (adj_tape_status(t) != ADJ_OK)
        return NULL;
    adj_var *gx = adj_linear(x, adj_param(t, p, l->w_ih), input_bias(p, l, t));
    return step(p, l, adj_param(t, p, l->w_hh), gx, h, c, c_out);
}

adj_status adj_rnn_sequence(adj_params *p, const adj_rnn *l, adj_var *x, adj_var *h0, adj_var *c0,
                            adj_var **out, adj_var **h_last, adj_var **c_last)
{
    static const char *fn = "adj_rnn_sequence";
    if (h_last)
        *h_last = NULL;
    if (c_last)
        *c_last = NULL;
    x = adj_h_in(x, fn);
    h0 = adj_h_in(h0, fn);
    c0 = adj_h_in(c0, fn);
    adj_tape *t = check(fn, p, l, x, h0, c0, 0);
    if (!t)
        return ADJ_EINVAL;
    if (adj_tape_status(t) == ADJ_OK && !out)
        adj_tape_fail(t, ADJ_EINVAL, "%s: NULL out", fn);
    if (adj_tape_status(t) == ADJ_OK && (adj_ndim(x) != 3 || adj_dim(x, 2) != l->input)) {
        char s[64];
        adj_shape_string(x, s, sizeof s);
        adj_tape_fail(t, ADJ_ESHAPE, "%s: x is %s, not (batch, time, %lld)", fn, s,
                      (long long)l->input);
    }
    if (adj_tape_status(t) != ADJ_OK)
        return adj_tape_status(t);
    int64_t B = adj_dim(x, 0), T = adj_dim(x, 1), H = l->hidden, G = GATES[l->kind] * H;
    int64_t bh[2] = {B, H};
    adj_var *h = h0 ? h0 : adj_nn_const(t, adj_var_dtype(x), 2, bh);
    adj_var *c = l->kind == ADJ_RNN_LSTM ? (c0 ? c0 : adj_nn_const(t, adj_var_dtype(x), 2, bh)) : NULL;
    /* the input's gates for every step in one product, time-major: each
     * step's gates are then one contiguous (B, G) block that the step's
     * ops read in place (batch-major, each would be a strided view copied
     * before use, and its adjoint scattered back) */
    static const int tb[3] = {1, 0, 2};
    adj_var *xt = adj_reshape(adj_permute(x, tb), 2, ((int64_t[]){T * B, l->input}));
    adj_var *gx = adj_linear(xt, adj_param(t, p, l->w_ih), input_bias(p, l, t));
    gx = adj_reshape(gx, 3, ((int64_t[]){T, B, G}));
    /* W_hh as the steps read it: the transpose of a row-major copy of
     * W_hh^T, made once.  Each step's product h W_hh^T then reads the
     * copy row by row, and its backward's dh = dZ W_hh reads W_hh itself
     * (linear takes a weight with these values from where it is
     * row-major) */
    adj_var *w = adj_param(t, p, l->w_hh);
    if (T > 1)
        w = adj_transpose(adj_contiguous(adj_transpose(w)));
    for (int64_t s = 0; s < T && adj_tape_status(t) == ADJ_OK; s++) {
        adj_var *cn = NULL;
        h = step(p, l, w, adj_select(gx, 0, s), h, c, &cn);
        c = cn;
        out[s] = h;
    }
    if (adj_tape_status(t) != ADJ_OK)
        return adj_tape_status(t);
    if (h_last)
        *h_last = h;
    if (c_last)
        *c_last = c;
    return ADJ_OK;
}
