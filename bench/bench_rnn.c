/*
 * LSTM and GRU training-step benchmarks: the "lstm" and "gru"
 * architectures built through the public registry the way a user writes
 * it (adj_model_new, adj_model_forward, softmax cross-entropy,
 * adj_backward_ex releasing the intermediate adjoints, Adam lr 3e-3 as `adjoint train` and char_lm_torch.py),
 * float32, one layer of hidden 128, embedding 32, vocabulary 28, T 32,
 * B 32.  One step: reset the tape, put the token ids on it, forward, zero
 * the gradients (adj_params_zero_grad_lazy, as adj_train does), backward,
 * optimizer step; on one fixed random batch.
 * bench_steps.py lstm|gru is the same model (char_lm_torch.py's
 * CharModel) in PyTorch.
 *
 * usage: bench_rnn lstm|gru [threads] [steps] [batch] [time]
 *   5 warm-up steps, then `steps` timed one by one; prints the median step
 *   time (wall and process CPU), tokens per second and the peak RSS.
 * output: the header line ("# ..."), then one JSON object (bench_util.h).
 */
#include <adjoint.h>

#include "bench_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { VOCAB = 28 };

typedef struct run {
    adj_model *m;
    adj_optim *opt;
    int32_t *x, *y;
    int64_t B, T;
} run;

/* One training step; returns the loss (NaN on error). */
static double step(void *arg, adj_tape *t)
{
    run *r = arg;
    adj_tape_reset(t);
    adj_var *x = adj_index(t, 2, ((int64_t[]){r->B, r->T}), r->x);
    adj_var *logits = adj_model_forward(r->m, x); /* (B, T, V) */
    adj_var *loss = adj_softmax_cross_entropy(adj_reshape(logits, 2, ((int64_t[]){r->B * r->T, VOCAB})),
                                              r->y);
    adj_params *p = adj_model_params(r->m);
    adj_params_zero_grad_lazy(p);
    if (adj_backward_ex(loss, &(adj_backward_opts){.release_adjoints = 1}) != ADJ_OK) {
        fprintf(stderr, "bench_rnn: %s\n", adj_tape_message(t));
        return NAN;
    }
    adj_optim_step(r->opt);
    return adj_item(loss);
}

int main(int argc, char **argv)
{
    const char *kind = argc > 1 ? argv[1] : "";
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    long steps = argc > 3 ? atol(argv[3]) : 20;
    run r = {.B = argc > 4 ? atol(argv[4]) : 32, .T = argc > 5 ? atol(argv[5]) : 32};
    if ((strcmp(kind, "lstm") && strcmp(kind, "gru")) || threads < 1 || steps < 1 || r.B < 1 || r.T < 1) {
        fprintf(stderr, "usage: bench_rnn lstm|gru [threads] [steps] [batch] [time]\n");
        return 2;
    }
    adj_set_threads(threads);
    char workload[16];
    snprintf(workload, sizeof workload, "%s_step", kind);
    const char *kv[] = {"vocab", "28", "embed", "32", "hidden", "128", "layers", "1"};
    adj_rng rng;
    adj_rng_seed(&rng, 1);
    adj_error err = {0};
    r.m = adj_model_new(kind, 4, kv, ADJ_F32, &rng, &err);
    adj_optim_config c = adj_optim_defaults(ADJ_OPTIM_ADAM);
    c.lr = 3e-3;
    r.opt = r.m ? adj_optim_new(adj_model_params(r.m), &c, NULL) : NULL;
    size_t n = (size_t)(r.B * r.T);
    r.x = malloc(n * sizeof *r.x);
    r.y = malloc(n * sizeof *r.y);
    int rc = 1;
    if (!r.m || !r.opt || !r.x || !r.y) {
        fprintf(stderr, "bench_rnn: set-up failed: %s\n", r.m ? "out of memory" : err.message);
    } else {
        bench_tokens(&rng, r.x, r.y, n, VOCAB);
        rc = bench_model_steps(argv[0], workload, "natural", r.B, r.T, threads, steps, step, &r);
    }
    adj_optim_free(r.opt);
    adj_model_free(r.m);
    free(r.x), free(r.y);
    return rc;
}
