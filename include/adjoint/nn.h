/*
 * adjoint/nn.h — layers, initialisers, multi-layer perceptrons, metrics.
 *
 * Everything here is a composition of the public ops: a dense layer is
 * adj_linear, batch normalisation is mean/sub/mul/sqrt/div, dropout is a
 * multiplication by a constant mask.  Gradients come from adj_backward
 * alone; there are no hand-written backward rules in this layer.
 *
 * Trainable tensors live in an adj_params store (see core.h), so an
 * optimizer (optim.h) updates a whole model with flat loops:
 *
 *     adj_mlp_config c = adj_mlp_config_default();
 *     int64_t sizes[] = {784, 256, 10};
 *     adj_mlp_config_set_sizes(&c, 3, sizes, ADJ_ACT_RELU);
 *     adj_rng rng;  adj_rng_seed(&rng, 1);
 *     adj_error err;
 *     adj_mlp *m = adj_mlp_new(&c, &rng, &err);
 *     adj_tape *t = adj_tape_new();
 *     ...per step: adj_tape_reset(t);
 *         adj_var *x = adj_constant_f32(t, 2, shape, batch);
 *         adj_var *loss = adj_softmax_cross_entropy(adj_mlp_forward(m, x), labels);
 *         adj_params_zero_grad(adj_mlp_params(m));
 *         adj_backward(loss);  adj_optim_step(opt);
 *     adj_tape_free(t);  adj_mlp_free(m);
 *
 * Losses are the fused ops of ops.h: adj_softmax_cross_entropy (classes),
 * adj_mse (regression), adj_bce_with_logits (binary).
 */
#ifndef ADJOINT_NN_H
#define ADJOINT_NN_H

#include "core.h"
#include "ops.h"
#include "rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ activations */

typedef enum adj_activation {
    ADJ_ACT_IDENTITY = 0,
    ADJ_ACT_SIGMOID,
    ADJ_ACT_TANH,
    ADJ_ACT_RELU,       /* ReLU'(0) = 1 */
    ADJ_ACT_LEAKY_RELU, /* slope 0.01 */
    ADJ_ACT_ELU,        /* alpha 1 */
    ADJ_ACT_SOFTPLUS,
    ADJ_ACT_COUNT
} adj_activation;

/* "relu", "tanh", ...; "?" when out of range. */
ADJ_API const char *adj_activation_name(adj_activation a);
/* Name -> activation ("leaky_relu" and "leaky-relu" both work).
 * ADJ_EINVAL for an unknown name. */
ADJ_API adj_status adj_activation_parse(const char *name, adj_activation *out);
/* y = act(x) through the matching op (identity returns x itself). */
ADJ_API adj_var *adj_activate(adj_var *x, adj_activation a);

/* ----------------------------------------------------------- initialisers */

typedef enum adj_init {
    ADJ_INIT_ZEROS = 0,
    ADJ_INIT_CONSTANT,       /* every element = value */
    ADJ_INIT_NORMAL,         /* N(0, 1) */
    ADJ_INIT_XAVIER_UNIFORM, /* U(-a, a), a = sqrt(6 / (fan_in + fan_out)) */
    ADJ_INIT_XAVIER_NORMAL,  /* N(0, 2 / (fan_in + fan_out)) */
    ADJ_INIT_HE_UNIFORM,     /* U(-a, a), a = sqrt(6 / fan_in) */
    ADJ_INIT_HE_NORMAL,      /* N(0, 2 / fan_in) */
    ADJ_INIT_COUNT
} adj_init;

/* Fill tensor i of p.  For a 2-D (out, in) tensor fan_in = in and
 * fan_out = out; for any other shape both are its number of elements.
 * `value` is used by ADJ_INIT_CONSTANT only; rng may be NULL for ZEROS
 * and CONSTANT.  ADJ_EINVAL for a bad index, kind or missing rng. */
ADJ_API adj_status adj_init_tensor(adj_params *p, int i, adj_init kind, double value,
                                   adj_rng *rng);

/* ------------------------------------------------------------ dense layer */

/* A dense layer's parameters: indices into a store, z = W a + b with
 * W (out, in) and b (out).  Plain data; the store owns the tensors. */
typedef struct adj_dense {
    int weight, bias; /* bias = -1 for a layer without bias */
    int64_t in, out;
} adj_dense;

/* Add "<name>.weight" (out, in) and, if with_bias, "<name>.bias" (out) to
 * p, zero-filled (a NULL name counts as "dense").  Status of the store on
 * failure (see adj_params_message), also for in or out < 1. */
ADJ_API adj_status adj_dense_add(adj_params *p, const char *name, int64_t in, int64_t out,
                                 int with_bias,
                                 adj_dense *layer);
/* Z = X W^T + b on X's tape: X (batch, in) -> Z (batch, out), one fused
 * adj_linear node.  Errors go to the tape as for any op. */
ADJ_API adj_var *adj_dense_forward(adj_params *p, const adj_dense *layer, adj_var *x);

/* ---------------------------------------------------------------- dropout */

/* Inverted dropout.  Training: y = x * m / keep with m_i ~ Bernoulli(keep),
 * keep = 1 - p_drop, the mask drawn from rng (a constant leaf multiplied
 * in with adj_mul, so no gradient flows into it).  Evaluation, or
 * p_drop == 0: y = x (x itself is returned).  p_drop must be in [0, 1):
 * otherwise ADJ_EINVAL is recorded on x's tape. */
ADJ_API adj_var *adj_dropout(adj_var *x, double p_drop, int training, adj_rng *rng);
/* Training dropout with a given mask: y_i = x_i * keep_mask[i] / keep_prob
 * (keep_mask has numel(x) entries, 0 or 1; keep_prob in (0, 1]). */
ADJ_API adj_var *adj_dropout_mask(adj_var *x, const uint8_t *keep_mask, double keep_prob);

/* ------------------------------------------------------ batch normalisation */

/*
 * Batch normalisation over the rows of X (batch, features):
 *   training:   mu = mean_rows(X), var = mean_rows((X - mu)^2) (biased),
 *               Y = gamma (X - mu) / sqrt(var + eps) + beta,
 *               running = (1 - momentum) running + momentum batch
 *               (the running variance uses the unbiased batch variance,
 *               as PyTorch does);
 *   evaluation: the running mean and variance replace mu and var.
 * gamma (init 1) and beta (init 0) are parameters "<name>.gamma/.beta" in
 * the store; the running statistics (mean 0, variance 1 at start) belong
 * to the adj_batchnorm object.
 */
typedef struct adj_batchnorm adj_batchnorm;

/* eps <= 0 gives 1e-5, momentum 0 gives 0.1.  NULL on failure (message in
 * err): ADJ_EINVAL for a NULL store, features < 1, momentum outside [0, 1]
 * or NaN, eps NaN or infinite.  Its memory comes from p's allocator. */
ADJ_API adj_batchnorm *adj_batchnorm_new(adj_params *p, const char *name, int64_t features,
                                         double eps,
                                         double momentum, adj_error *err);
ADJ_API void adj_batchnorm_free(adj_batchnorm *bn);
/* Y (batch, features) from X (batch, features), as above.  Tape errors:
 * ADJ_EINVAL for a NULL bn or p; ADJ_ESHAPE for an X that is not 2-D, has
 * another number of features, or (training) fewer than 2 rows, whose
 * variance is undefined (PyTorch refuses it too). */
ADJ_API adj_var *adj_batchnorm_forward(adj_batchnorm *bn, adj_params *p, adj_var *x, int training);
ADJ_API int64_t adj_batchnorm_features(const adj_batchnorm *bn);
/* The running statistics (features doubles each), owned by bn, writable. */
ADJ_API double *adj_batchnorm_running_mean(adj_batchnorm *bn);
ADJ_API double *adj_batchnorm_running_var(adj_batchnorm *bn);

/* ------------------------------------------------------ multi-layer perceptron */

#define ADJ_MLP_MAX_LAYERS 16

typedef struct adj_mlp_config {
    adj_dtype dtype;                        /* F32 for training, F64 for checks */
    int n_sizes;                            /* 2 .. ADJ_MLP_MAX_LAYERS + 1 */
    int64_t sizes[ADJ_MLP_MAX_LAYERS + 1];  /* input, hidden..., output */
    adj_activation act[ADJ_MLP_MAX_LAYERS]; /* after dense layer k (the last
                                              is usually IDENTITY: logits) */
    adj_init init;                          /* weights; biases start at 0 */
    double dropout;                         /* after each hidden activation */
    int batchnorm;                          /* before each hidden activation */
} adj_mlp_config;

/* F32, no layers, He-normal init, no dropout, no batch norm. */
ADJ_API adj_mlp_config adj_mlp_config_default(void);
/* Set the sizes and use `hidden` after every hidden layer and IDENTITY
 * after the last.  ADJ_EINVAL for a bad count or a size < 1. */
ADJ_API adj_status adj_mlp_config_set_sizes(adj_mlp_config *c, int n_sizes, const int64_t *sizes,
                                            adj_activation hidden);
/* Weights and biases of dense layers sizes[0] -> ... -> sizes[n-1]:
 * sum of (in + 1) * out (E12: 4-5-1 -> 31, 4-4-3-5-1 -> 61). */
ADJ_API size_t adj_mlp_count_params(int n_sizes, const int64_t *sizes);

typedef struct adj_mlp adj_mlp;

/* Build the store and initialise it from rng (consumed; the dropout
 * masks later draw from a stream forked from it).  NULL on failure with
 * the reason in err. */
ADJ_API adj_mlp *adj_mlp_new(const adj_mlp_config *c, adj_rng *rng, adj_error *err);
/* The same with all of the model's memory (the model, its store, batch
 * norms, input transform, and buffers of adj_model_save) from `a`
 * (copied; NULL = malloc). */
ADJ_API adj_mlp *adj_mlp_new_with(const adj_mlp_config *c, adj_rng *rng, const adj_allocator *a,
                                  adj_error *err);
ADJ_API void adj_mlp_free(adj_mlp *m);
ADJ_API const adj_mlp_config *adj_mlp_get_config(const adj_mlp *m);
/* The parameter store (owned by m). */
ADJ_API adj_params *adj_mlp_params(adj_mlp *m);
/* Number of dense layers (n_sizes - 1) and layer k's parameter indices. */
ADJ_API int adj_mlp_layers(const adj_mlp *m);
ADJ_API const adj_dense *adj_mlp_dense(const adj_mlp *m, int k);
/* Hidden layer k's batch norm, or NULL without batch norm. */
ADJ_API adj_batchnorm *adj_mlp_batchnorm(adj_mlp *m, int k);
/* Training mode (dropout on, batch statistics) or evaluation mode. */
ADJ_API void adj_mlp_set_training(adj_mlp *m, int training);
ADJ_API int adj_mlp_training(const adj_mlp *m);
/* Seed the dropout stream. */
ADJ_API void adj_mlp_seed_dropout(adj_mlp *m, uint64_t seed);
/* Output (batch, sizes[n-1]) of the network on X (batch, sizes[0]) on X's
 * tape, in the current mode. */
ADJ_API adj_var *adj_mlp_forward(adj_mlp *m, adj_var *x);
/* Class of each row of `x` (rows * sizes[0] values of the model's dtype:
 * float or double): argmax of the output, in evaluation mode, `batch`
 * rows at a time (0 = 256).  Resets tape t before each batch.  ADJ_EINVAL
 * for a NULL argument (recorded on t too when t is given). */
ADJ_API adj_status adj_mlp_predict(adj_mlp *m, adj_tape *t, const void *x, size_t rows,
                                   size_t batch,
                                   int32_t *pred);

/* Input normalisation kept with the model and saved in model files:
 * x' = (x - shift[j]) * scale[j] for feature j (sizes[0] doubles each,
 * copied).  adj_mlp_forward does not apply it: call adj_mlp_prepare_input
 * on raw data before building the input var.  ADJ_EINVAL for NULL. */
ADJ_API adj_status adj_mlp_set_input_transform(adj_mlp *m, const double *shift,
                                               const double *scale);
/* 1 and the arrays (owned by m) if a transform is set, else 0. */
ADJ_API int adj_mlp_input_transform(const adj_mlp *m, const double **shift, const double **scale);
/* Apply the input transform in place to rows * sizes[0] floats (no-op
 * without a transform). */
ADJ_API void adj_mlp_prepare_input(const adj_mlp *m, float *x, size_t rows);

/* ---------------------------------------------------------------- metrics */

/* out[r] = argmax of row r of a (rows, classes) or (classes) var; the
 * first maximum wins.  ADJ_EINVAL for NULL or more than 2 dims. */
ADJ_API adj_status adj_argmax_rows(const adj_var *logits, int32_t *out);
/* Fraction of i with pred[i] == labels[i]; 0 for n == 0. */
ADJ_API double adj_accuracy(const int32_t *pred, const int32_t *labels, size_t n);
/* matrix[true * classes + predicted] counts (classes * classes entries,
 * zeroed first).  ADJ_EINVAL if a label or prediction is outside
 * [0, classes). */
ADJ_API adj_status adj_confusion_matrix(const int32_t *pred, const int32_t *labels, size_t n,
                                        int classes,
                                        int64_t *matrix);

#ifdef __cplusplus
}
#endif
#endif
