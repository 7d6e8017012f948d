/*
 * adjoint/optim.h — optimizers, gradient clipping, learning-rate schedules.
 *
 * An optimizer updates every tensor of a parameter store with one flat loop
 * over its contiguous value and gradient blocks; its state (momentum,
 * moments, accumulators) is kept in blocks of the same layout.  The update
 * rules and their defaults are PyTorch's (torch.optim, 2.x):
 *
 *   SGD      g += wd θ; b = μ b + (1 - dampening) g (b = g at step 1);
 *            g = nesterov ? g + μ b : b (when μ != 0); θ -= lr g
 *   Adam     g += wd θ; m = β1 m + (1-β1) g; v = β2 v + (1-β2) g²;
 *            θ -= lr (m / (1-β1^t)) / (sqrt(v / (1-β2^t)) + eps)
 *   AdamW    θ *= 1 - lr wd, then Adam without g += wd θ
 *   RMSProp  g += wd θ; v = α v + (1-α) g²; (centered: a = α a + (1-α) g,
 *            v̄ = v - a²); d = sqrt(v̄) + eps; μ > 0: b = μ b + g/d, θ -= lr b;
 *            else θ -= lr g / d
 *   AdaGrad  lr_t = lr / (1 + (t-1) lr_decay); g += wd θ; s += g²;
 *            θ -= lr_t g / (sqrt(s) + eps)
 *
 * A step reads the gradients and leaves them as they are: zero them with
 * adj_params_zero_grad before the next backward.
 */
#ifndef ADJOINT_OPTIM_H
#define ADJOINT_OPTIM_H

#include "core.h"
#include "safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum adj_optim_kind {
    ADJ_OPTIM_SGD = 0,
    ADJ_OPTIM_ADAM,
    ADJ_OPTIM_ADAMW,
    ADJ_OPTIM_RMSPROP,
    ADJ_OPTIM_ADAGRAD,
    ADJ_OPTIM_COUNT
} adj_optim_kind;

typedef struct adj_optim_config {
    adj_optim_kind kind;
    double lr;
    double weight_decay;        /* L2 (coupled) for all but AdamW (decoupled) */
    double momentum;            /* SGD, RMSProp */
    double dampening;           /* SGD */
    int nesterov;               /* SGD; needs momentum > 0 and dampening 0 */
    double beta1, beta2;        /* Adam, AdamW */
    double eps;                 /* Adam, AdamW, RMSProp, AdaGrad */
    double alpha;               /* RMSProp smoothing */
    int centered;               /* RMSProp */
    double lr_decay;            /* AdaGrad */
    double initial_accumulator; /* AdaGrad */
} adj_optim_config;

/* PyTorch's defaults for kind: SGD lr 1e-3, Adam lr 1e-3 betas (0.9,
 * 0.999) eps 1e-8, AdamW the same with weight_decay 1e-2, RMSProp lr 1e-2
 * alpha 0.99 eps 1e-8, AdaGrad lr 1e-2 eps 1e-10; everything else 0. */
ADJ_API adj_optim_config adj_optim_defaults(adj_optim_kind kind);
/* "sgd", "adam", "adamw", "rmsprop", "adagrad"; "?" out of range. */
ADJ_API const char *adj_optim_name(adj_optim_kind kind);
/* Name -> kind; ADJ_EINVAL for an unknown name. */
ADJ_API adj_status adj_optim_parse(const char *name, adj_optim_kind *out);

typedef struct adj_optim adj_optim;

/* An optimizer for every tensor of p (p must not gain tensors afterwards:
 * the state is sized at creation).  NULL for a NULL/empty store, an
 * invalid config or no memory; *status (may be NULL) says which
 * (ADJ_EINVAL, ADJ_ENOMEM).  Valid settings (of those the kind reads):
 * lr finite and > 0; weight_decay, eps, lr_decay, initial_accumulator
 * finite and >= 0; momentum, beta1, beta2, alpha in [0, 1); dampening in
 * [0, 1]; Nesterov needs momentum > 0 and dampening 0.  NaN and infinities
 * are never valid. */
ADJ_API adj_optim *adj_optim_new(adj_params *p, const adj_optim_config *c, adj_status *status);
/* The same with the optimizer's memory (itself and its state) from `a`
 * (copied; NULL = malloc), e.g. to count allocations or fail one. */
ADJ_API adj_optim *adj_optim_new_with(adj_params *p, const adj_optim_config *c,
                                      const adj_allocator *a,
                                      adj_status *status);
/* Frees o and its state; safe before or after its store is freed. */
ADJ_API void adj_optim_free(adj_optim *o);
/* One update of every parameter from its gradient.  ADJ_ESTATE if the
 * store grew since adj_optim_new. */
ADJ_API adj_status adj_optim_step(adj_optim *o);
/* The learning rate used by the next step (for schedules, which may reach
 * 0).  ADJ_EINVAL, and the rate unchanged, for a NULL o or an lr that is
 * negative, NaN or infinite. */
ADJ_API adj_status adj_optim_set_lr(adj_optim *o, double lr);
ADJ_API double adj_optim_lr(const adj_optim *o);
/* Steps taken so far. */
ADJ_API int64_t adj_optim_steps(const adj_optim *o);
ADJ_API const adj_optim_config *adj_optim_get_config(const adj_optim *o);

/* -------------------------------------------------------------- state */

/*
 * The optimizer's state, to continue training exactly where it stopped:
 * the steps taken and every state block, one safetensors tensor per
 * parameter and block named "optim.<parameter name>.<block>" (the store's
 * dtype, the parameter's shape), the block named as PyTorch names it:
 * SGD with momentum "momentum_buffer"; Adam and AdamW "exp_avg",
 * "exp_avg_sq"; RMSProp "square_avg", "grad_avg", "momentum_buffer";
 * AdaGrad "sum"; and the metadata entries "optim.kind" (adj_optim_name)
 * and "optim.steps" (decimal).  An optimizer of the same kind over a store
 * with the same tensors, given that state, takes the same later steps bit
 * for bit as the one that wrote it.
 */
/* Add o's state to w.  The tensors reference o's blocks: encode or save w
 * before o steps again or is freed.  ADJ_EINVAL for a NULL o or w, and
 * the writer's errors (a parameter name used twice). */
ADJ_API adj_status adj_optim_state_write(const adj_optim *o, adj_st_writer *w, adj_error *err);
/* Restore o's state from f, a file holding what adj_optim_state_write
 * added (path, which may be NULL, names the file in messages).  F32 and
 * F64 tensors are converted to the store's dtype.  ADJ_EINVAL for a NULL
 * o or f; ADJ_EFORMAT naming the file and the entry for a missing or
 * malformed "optim.kind" or "optim.steps", a kind other than o's, a
 * missing tensor, one of another shape or dtype, or "optim." tensors that
 * o has no block for; ADJ_ENOMEM.  On any error o is unchanged. */
ADJ_API adj_status adj_optim_state_read(adj_optim *o, const adj_safetensors *f, const char *path,
                                        adj_error *err);

/* ----------------------------------------------------------- clipping */

/* g_i = min(max(g_i, -clip), clip) over the whole gradient block.
 * ADJ_EINVAL, with nothing changed, for a NULL store or a clip that is
 * negative or NaN (+inf clips nothing). */
ADJ_API adj_status adj_clip_grad_value(adj_params *p, double clip);
/* If ||g||_2 > max_norm, g *= max_norm / ||g||_2 (the global norm over
 * every tensor).  Returns the norm before clipping; a max_norm that is
 * negative or NaN clips nothing and returns NaN. */
ADJ_API double adj_clip_grad_norm(adj_params *p, double max_norm);
/* ||g||_2 over every tensor of p. */
ADJ_API double adj_grad_norm(adj_params *p);

/* ------------------------------------------------------- lr schedules */

typedef enum adj_lr_kind {
    ADJ_LR_CONSTANT = 0,
    ADJ_LR_STEP,   /* lr = base gamma^floor(step / step_size) */
    ADJ_LR_COSINE, /* lr = min + (base - min)(1 + cos(pi step / total)) / 2,
                      min after total steps */
} adj_lr_kind;

typedef struct adj_lr_schedule {
    adj_lr_kind kind;
    double base_lr;
    int64_t step_size; /* STEP */
    double gamma;      /* STEP */
    int64_t total;     /* COSINE: steps to reach min_lr */
    double min_lr;     /* COSINE */
    int64_t warmup;    /* any kind: the first `warmup` steps use
                          lr * (step + 1) / warmup (0 = none) */
} adj_lr_schedule;

/* Learning rate for step `step` (0-based). */
ADJ_API double adj_lr_at(const adj_lr_schedule *s, int64_t step);

#ifdef __cplusplus
}
#endif
#endif
