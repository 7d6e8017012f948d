/*
 * GPT training-step benchmark: the "gpt" architecture built through the
 * public registry the way a user writes it (adj_model_new, then
 * adj_model_forward, softmax cross-entropy, adj_backward_ex releasing the
 * intermediate adjoints, as adj_train does, and AdamW),
 * float32, n_layer 4, n_embd 128, n_head 4, T 64, B 16, vocabulary 65
 * (n_positions = T), no dropout.  One step: reset the tape, put the token
 * ids on it, forward, zero the gradients (adj_params_zero_grad_lazy, as
 * adj_train does), backward, optimizer step; on one
 * fixed random batch (the data never changes the cost).  bench_steps.py
 * gpt is the same model (tests/interop/torch_gpt.py's GPT-2) in PyTorch.
 *
 * Variant "natural" runs the registry's forward; variant "written" runs
 * the same model on the same parameters through a forward written here
 * with public ops the way a newcomer writes GPT-2: (B, T, C) activations
 * throughout, x W + b as a matmul and an add, q, k and v sliced from the
 * fused product and permuted to (B, H, T, D), the heads merged back by a
 * permute and a reshape, the tied head as a matmul with wte's transpose.
 *
 * usage: bench_gpt [threads] [steps] [batch] [time] [natural|written]
 *   5 warm-up steps, then `steps` timed one by one; prints the median step
 *   time (wall and process CPU), tokens per second and the peak RSS.
 * output: the header line ("# ..."), then one JSON object (bench_util.h).
 */
#include <adjoint.h>

#include "bench_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { VOCAB = 65, EMBD = 128, LAYERS = 4, HEADS = 4 };

typedef struct run {
    adj_model *m;
    adj_optim *opt;
    int32_t *x, *y;
    int64_t B, T;
    int written;
} run;

/* x W + b, W stored (in, out) as GPT-2's Conv1D */
static adj_var *dense(adj_tape *t, adj_params *p, int iw, adj_var *x)
{
    return adj_add(adj_matmul(x, adj_param(t, p, iw)), adj_param(t, p, iw + 1));
}

/* The newcomer's GPT-2 forward: parameters in the registry's order
 * (wte, wpe, then per block ln_1 w b, c_attn w b, c_proj w b, ln_2 w b,
 * c_fc w b, mlp c_proj w b, and ln_f w b last). */
static adj_var *written_forward(adj_params *p, adj_var *x, int64_t B, int64_t T)
{
    adj_tape *t = adj_var_tape(x);
    const int64_t C = EMBD, H = HEADS, D = EMBD / HEADS;
    static const int heads[4] = {0, 2, 1, 3};
    adj_var *h = adj_add(adj_embedding(adj_param(t, p, 0), x), adj_slice(adj_param(t, p, 1), 0, 0, T, 1));
    for (int l = 0; l < LAYERS; l++) {
        int b = 2 + 12 * l;
        adj_var *a = adj_layer_norm(h, 1, adj_param(t, p, b), adj_param(t, p, b + 1), 1e-5);
        adj_var *qkv = dense(t, p, b + 2, a); /* (B, T, 3C) */
        adj_var *qkv3[3];
        for (int j = 0; j < 3; j++) /* q, k, v: (B, H, T, D) */
            qkv3[j] = adj_permute(adj_reshape(adj_slice(qkv, 2, j * C, (j + 1) * C, 1), 4,
                                              ((int64_t[]){B, T, H, D})), heads);
        adj_var *q = qkv3[0], *k = qkv3[1], *v = qkv3[2];
        adj_var *y = adj_scaled_dot_product_attention(q, k, v, NULL, 1, 0.0);
        y = adj_reshape(adj_permute(y, heads), 3, ((int64_t[]){B, T, C}));
        h = adj_add(h, dense(t, p, b + 4, y));
        a = adj_layer_norm(h, 1, adj_param(t, p, b + 6), adj_param(t, p, b + 7), 1e-5);
        h = adj_add(h, dense(t, p, b + 10, adj_gelu_tanh(dense(t, p, b + 8, a))));
    }
    int f = 2 + 12 * LAYERS;
    h = adj_layer_norm(h, 1, adj_param(t, p, f), adj_param(t, p, f + 1), 1e-5);
    return adj_matmul(h, adj_transpose(adj_param(t, p, 0))); /* (B, T, V) */
}

/* One training step; returns the loss (NaN on error). */
static double step(void *arg, adj_tape *t)
{
    run *r = arg;
    adj_tape_reset(t);
    adj_var *x = adj_index(t, 2, ((int64_t[]){r->B, r->T}), r->x);
    adj_params *p = adj_model_params(r->m);
    adj_var *logits = r->written ? written_forward(p, x, r->B, r->T) : adj_model_forward(r->m, x);
    adj_var *loss = adj_softmax_cross_entropy(adj_reshape(logits, 2, ((int64_t[]){r->B * r->T, VOCAB})),
                                              r->y);
    adj_params_zero_grad_lazy(p);
    if (adj_backward_ex(loss, &(adj_backward_opts){.release_adjoints = 1}) != ADJ_OK) {
        fprintf(stderr, "bench_gpt: %s\n", adj_tape_message(t));
        return NAN;
    }
    adj_optim_step(r->opt);
    return adj_item(loss);
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    long steps = argc > 2 ? atol(argv[2]) : 20;
    run r = {.B = argc > 3 ? atol(argv[3]) : 16, .T = argc > 4 ? atol(argv[4]) : 64};
    const char *variant = argc > 5 ? argv[5] : "natural";
    r.written = !strcmp(variant, "written");
    if (threads < 1 || steps < 1 || r.B < 1 || r.T < 1 || r.T > 4096 ||
        (!r.written && strcmp(variant, "natural"))) {
        fprintf(stderr, "usage: bench_gpt [threads] [steps] [batch] [time] [natural|written]\n");
        return 2;
    }
    adj_set_threads(threads);
    char ctx[32];
    snprintf(ctx, sizeof ctx, "%lld", (long long)r.T);
    const char *kv[] = {"vocab_size", "65", "n_positions", ctx, "n_embd", "128",
                        "n_layer",    "4",  "n_head",      "4"};
    adj_rng rng;
    adj_rng_seed(&rng, 1);
    adj_error err = {0};
    r.m = adj_model_new("gpt", 5, kv, ADJ_F32, &rng, &err);
    adj_optim_config c = adj_optim_defaults(ADJ_OPTIM_ADAMW);
    c.lr = 3e-4;
    r.opt = r.m ? adj_optim_new(adj_model_params(r.m), &c, NULL) : NULL;
    size_t n = (size_t)(r.B * r.T);
    r.x = malloc(n * sizeof *r.x);
    r.y = malloc(n * sizeof *r.y);
    int rc = 1;
    if (!r.m || !r.opt || !r.x || !r.y) {
        fprintf(stderr, "bench_gpt: set-up failed: %s\n", r.m ? "out of memory" : err.message);
    } else {
        bench_tokens(&rng, r.x, r.y, n, VOCAB);
        rc = bench_model_steps(argv[0], "gpt_step", variant, r.B, r.T, threads, steps, step, &r);
    }
    adj_optim_free(r.opt);
    adj_model_free(r.m);
    free(r.x), free(r.y);
    return rc;
}
