/*
 * XOR with a 2-2-1 network (lecture notes E10): tanh hidden units, a
 * linear output, mean squared error, full-batch Adam.  Prints the loss as
 * it falls and the network's outputs on the four inputs.
 *
 *     ./xor [seed]
 */
#include <adjoint.h>

#include <stdio.h>
#include <stdlib.h>

/* Train on the four XOR points; the final loss goes to *loss and the
 * outputs to out[4].  Returns 0 on success. */
static int xor_train(uint64_t seed, int steps, int verbose, double *loss, double out[4])
{
    static const double X[8] = {1, 0, 0, 0, 0, 1, 1, 1};
    static const double T[4] = {1, 0, 1, 0};
    int64_t sizes[] = {2, 2, 1};
    adj_mlp_config c = adj_mlp_config_default();
    c.dtype = ADJ_F64;
    c.init = ADJ_INIT_XAVIER_NORMAL;
    adj_mlp_config_set_sizes(&c, 3, sizes, ADJ_ACT_TANH);
    adj_rng rng;
    adj_rng_seed(&rng, seed);
    adj_error err;
    adj_mlp *m = adj_mlp_new(&c, &rng, &err);
    if (!m) {
        fprintf(stderr, "xor: %s\n", err.message);
        return 1;
    }
    adj_optim_config oc = adj_optim_defaults(ADJ_OPTIM_ADAM);
    oc.lr = 0.05;
    adj_optim *opt = adj_optim_new(adj_mlp_params(m), &oc, NULL);
    adj_tape *t = adj_tape_new();
    int rc = opt && t ? 0 : 1;
    int64_t xs[2] = {4, 2}, ts[2] = {4, 1};
    adj_lr_schedule sched = {
        .kind = ADJ_LR_COSINE, .base_lr = 0.05, .total = steps, .min_lr = 1e-4};
    for (int s = 0; s < steps && rc == 0; s++) {
        adj_tape_reset(t);
        adj_var *x = adj_constant_f64(t, 2, xs, X);
        adj_var *target = adj_constant_f64(t, 2, ts, T);
        adj_var *y = adj_mlp_forward(m, x);
        adj_var *l = adj_mse(y, target);
        adj_params_zero_grad(adj_mlp_params(m));
        if (adj_backward(l) != ADJ_OK) {
            fprintf(stderr, "xor: %s\n", adj_tape_message(t));
            rc = 1;
            break;
        }
        *loss = adj_item(l);
        for (int i = 0; i < 4; i++)
            out[i] = adj_value_at(y, (size_t)i);
        if (verbose && (s % 500 == 0 || s == steps - 1))
            printf("step %5d  loss %.3e\n", s, *loss);
        adj_optim_set_lr(opt, adj_lr_at(&sched, s));
        adj_optim_step(opt);
    }
    adj_tape_free(t);
    adj_optim_free(opt);
    adj_mlp_free(m);
    return rc;
}

#ifndef ADJ_EXAMPLE_NO_MAIN
int main(int argc, char **argv)
{
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
    double loss = 0, out[4];
    if (xor_train(seed, 4000, 1, &loss, out))
        return 1;
    const char *in[4] = {"(1,0)", "(0,0)", "(0,1)", "(1,1)"};
    for (int i = 0; i < 4; i++)
        printf("xor%s = %.6f\n", in[i], out[i]);
    printf("final loss %.3e (%s 1e-6)\n", loss, loss < 1e-6 ? "below" : "NOT below");
    return loss < 1e-6 ? 0 : 1;
}
#endif
