/*
 * adjoint/rnn.h — recurrent layers: Elman RNN (tanh), LSTM and GRU.
 *
 * Compositions of public ops (linear, slice, sigmoid, tanh, mul, add),
 * so gradients come from adj_backward alone.  Each step computes all of
 * its gates with one matrix product of the hidden state (the input's
 * products for every step are one product before the loop).  The
 * parameters, their shapes, gate order and initialisation are PyTorch's
 * (torch.nn.RNN / LSTM / GRU, one layer), so a state_dict carries over:
 *
 *   weight_ih_l{k} (G*H, I), weight_hh_l{k} (G*H, H), bias_ih_l{k} (G*H),
 *   bias_hh_l{k} (G*H), all U(-1/sqrt(H), 1/sqrt(H));  G = 1, 4, 3.
 *
 *   RNN:  h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)
 *   LSTM: (i, f, g, o) = gates; i, f, o = sigmoid, g = tanh;
 *         c' = f c + i g;  h' = o tanh(c')
 *   GRU:  (r, z, n) gates; r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z),
 *         n = tanh(x_n + r h_n) (h_n includes b_hn);  h' = (1 - z) n + z h
 */
#ifndef ADJOINT_RNN_H
#define ADJOINT_RNN_H

#include "core.h"
#include "ops.h"
#include "rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum adj_rnn_kind { ADJ_RNN_TANH = 0, ADJ_RNN_LSTM, ADJ_RNN_GRU, ADJ_RNN_KIND_COUNT } adj_rnn_kind;

/* "rnn", "lstm", "gru"; "?" out of range. */
ADJ_API const char *adj_rnn_kind_name(adj_rnn_kind k);
/* Gates per step: 1, 4, 3 (0 out of range). */
ADJ_API int adj_rnn_gates(adj_rnn_kind k);

/* One recurrent layer: indices of its four tensors in a store. */
typedef struct adj_rnn {
    adj_rnn_kind kind;
    int64_t input, hidden;
    int w_ih, w_hh, b_ih, b_hh;
} adj_rnn;

/* Add "<prefix>weight_ih_l<layer>", "<prefix>weight_hh_l<layer>",
 * "<prefix>bias_ih_l<layer>", "<prefix>bias_hh_l<layer>" to p (prefix
 * NULL = ""), initialised from rng as PyTorch does (rng NULL: zeros).
 * ADJ_EINVAL naming the problem for a NULL store or layer, a bad kind,
 * layer < 0, input or hidden < 1; the store's status when it refuses. */
ADJ_API adj_status adj_rnn_add(adj_params *p, const char *prefix, int layer, adj_rnn_kind kind,
                               int64_t input, int64_t hidden, adj_rng *rng, adj_rnn *l,
                               adj_error *err);

/* One step on x's tape: x (B, input), h (B, hidden), c (B, hidden, LSTM
 * only; NULL otherwise) -> the new h; the LSTM's new c in *c_out.
 * Errors (NULL arguments, shapes) go to the tape of x (or h). */
ADJ_API adj_var *adj_rnn_cell(adj_params *p, const adj_rnn *l, adj_var *x, adj_var *h, adj_var *c,
                              adj_var **c_out);

/* The layer unrolled over x (B, T, input) from h0 (and c0 for the LSTM;
 * NULL = zeros): out[t] = h after step t (B, hidden) for t < T (out has
 * T entries), the last h and c in *h_last, *c_last (either may be NULL).
 * The tape's status is returned (ADJ_ESHAPE naming the shapes, ...). */
ADJ_API adj_status adj_rnn_sequence(adj_params *p, const adj_rnn *l, adj_var *x, adj_var *h0,
                                    adj_var *c0, adj_var **out, adj_var **h_last,
                                    adj_var **c_last);

/* The gates of one LSTM step in one op: z (B, 4H) the pre-activations of
 * the gates i, f, g, o (in that order, H columns each), c (B, H) the cell
 * state; y (2, B, H) holds h' = o tanh(c') in y[0] and c' = f c + i g in
 * y[1], with i, f, o = sigmoid and g = tanh of their columns. */
#define adj_lstm_cell(...) adj_lstm_cell_at(__VA_ARGS__, ADJ_AT_)
ADJ_API adj_var *adj_lstm_cell_at(adj_var *z, adj_var *c, const char *file, int line);
ADJ_API adj_var *(adj_lstm_cell)(adj_var *z, adj_var *c);

/* The gates of one GRU step in one op: x and hh (B, 3H) the input's and
 * the state's pre-activations of r, u, n (H columns each), h (B, H) the
 * state; h' (B, H) = n + u (h - n) with r = sigmoid(x_r + hh_r),
 * u = sigmoid(x_u + hh_u), n = tanh(x_n + r hh_n). */
#define adj_gru_cell(...) adj_gru_cell_at(__VA_ARGS__, ADJ_AT_)
ADJ_API adj_var *adj_gru_cell_at(adj_var *x, adj_var *hh, adj_var *h, const char *file, int line);
ADJ_API adj_var *(adj_gru_cell)(adj_var *x, adj_var *hh, adj_var *h);

#ifdef __cplusplus
}
#endif
#endif
