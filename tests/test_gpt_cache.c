/*
 * Decoding a "gpt" model with a key/value cache (adj_gpt_cache_*): at
 * every position the cached step's logits equal the last position of a
 * forward over the whole prefix (adj_model_forward, the uncached path)
 * to 1e-12 in f64 and 1e-5 in f32, on random models whose weights are
 * drawn wide (std 0.3) so that the attention is far from uniform; greedy
 * decoding gives the same tokens both ways; reset starts again; and the
 * refusals.
 */
#include <adjoint.h>

#include <check.h>

#include "check_util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static adj_model *random_gpt(adj_dtype dt, const char *V, const char *P, const char *C,
                             const char *L, const char *H, uint64_t seed)
{
    const char *kv[] = {"vocab_size", V, "n_positions", P, "n_embd", C, "n_layer", L, "n_head", H};
    adj_rng rng;
    adj_rng_seed(&rng, seed);
    adj_error err;
    adj_model *m = adj_model_new("gpt", 5, kv, dt, &rng, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    /* every tensor, biases and layer norms too, N(0, 0.3^2) (+1 on the
     * norms' weights) */
    adj_params *p = adj_model_params(m);
    for (int i = 0; i < adj_params_count(p); i++) {
        int norm_w = strstr(adj_model_param_name(m, i), "ln_") &&
                     strstr(adj_model_param_name(m, i), "weight");
        for (size_t j = 0; j < adj_params_tensor_numel(p, i); j++) {
            double z = 0.3 * adj_rng_normal(&rng) + (norm_w ? 1.0 : 0.0);
            if (dt == ADJ_F64)
                ((double *)adj_params_value(p, i))[j] = z;
            else
                ((float *)adj_params_value(p, i))[j] = (float)z;
        }
    }
    adj_model_set_training(m, 0);
    return m;
}

/* The logits of the last of the n ids, by a forward over all of them. */
static void full_logits(adj_model *m, adj_tape *t, const int32_t *ids, size_t n, int V, double *out)
{
    adj_tape_reset(t);
    adj_var *x = adj_index(t, 2, ((int64_t[]){1, (int64_t)n}), ids);
    adj_var *y = adj_model_forward(m, x);
    ck_assert_msg(y != NULL, "%s", adj_tape_message(t));
    for (int v = 0; v < V; v++)
        out[v] = adj_value_at(y, (n - 1) * (size_t)V + (size_t)v);
}

static int argmax(const double *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b])
            b = i;
    return b;
}

static void agree(adj_dtype dt, double tol)
{
    const int V = 13, P = 24;
    adj_model *m = random_gpt(dt, "13", "24", "16", "3", "4", 7);
    adj_gpt_cache *c = adj_gpt_cache_new(m, NULL);
    ck_assert_ptr_nonnull(c);
    adj_tape *t = adj_tape_new();
    int32_t ids[24];
    double a[13], b[13], worst = 0, spread = 0;
    adj_rng rng;
    adj_rng_seed(&rng, 3);
    for (int i = 0; i < P; i++)
        ids[i] = (int32_t)adj_rng_below(&rng, V);
    adj_error err;
    for (int n = 1; n <= P; n++) {
        ck_assert_int_eq(adj_gpt_cache_length(c), n - 1);
        ck_assert_msg(adj_gpt_cache_step(c, ids[n - 1], a, &err) == ADJ_OK, "%s", err.message);
        full_logits(m, t, ids, (size_t)n, V, b);
        for (int v = 0; v < V; v++) {
            double d = fabs(a[v] - b[v]) / (1 + fabs(b[v]));
            worst = d > worst ? d : worst;
            spread = fmax(spread, fabs(b[v] - b[0]));
        }
    }
    ck_assert_msg(worst <= tol, "%s: cached logits differ by %g (relative)", adj_dtype_name(dt), worst);
    ck_assert_msg(spread > 1, "the logits should vary (spread %g)", spread);
    /* a full cache refuses another position, and is unchanged */
    ck_assert_int_eq(adj_gpt_cache_step(c, 0, a, &err), ADJ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "n_positions"));
    ck_assert_int_eq(adj_gpt_cache_length(c), P);
    /* greedy decoding from a 3-token prompt, cached and uncached */
    int32_t g1[24], g2[24];
    memcpy(g1, ids, 3 * sizeof *ids);
    memcpy(g2, ids, 3 * sizeof *ids);
    adj_gpt_cache_reset(c);
    ck_assert_int_eq(adj_gpt_cache_length(c), 0);
    for (int n = 3; n < P; n++) {
        for (int64_t j = adj_gpt_cache_length(c); j < n; j++)
            ck_assert_int_eq(adj_gpt_cache_step(c, g1[j], a, NULL), ADJ_OK);
        g1[n] = argmax(a, V);
        full_logits(m, t, g2, (size_t)n, V, b);
        g2[n] = argmax(b, V);
    }
    ck_assert(memcmp(g1, g2, sizeof g1) == 0);
    adj_tape_free(t);
    adj_gpt_cache_free(c);
    adj_model_free(m);
}

START_TEST(cache_f64) { agree(ADJ_F64, 1e-12); }
END_TEST

START_TEST(cache_f32) { agree(ADJ_F32, 1e-5); }
END_TEST

START_TEST(refusals)
{
    adj_error err;
    ck_assert_ptr_null(adj_gpt_cache_new(NULL, &err));
    ck_assert_ptr_nonnull(strstr(err.message, "NULL model"));
    const char *kv[] = {"sizes", "2,3"};
    adj_rng rng;
    adj_rng_seed(&rng, 1);
    adj_model *mlp = adj_model_new("mlp", 1, kv, ADJ_F64, &rng, NULL);
    ck_assert_ptr_null(adj_gpt_cache_new(mlp, &err));
    ck_assert_ptr_nonnull(strstr(err.message, "\"mlp\" model, not \"gpt\""));
    adj_model_free(mlp);
    adj_model *m = random_gpt(ADJ_F32, "5", "4", "8", "1", "2", 1);
    adj_gpt_cache *c = adj_gpt_cache_new(m, &err);
    double lg[5];
    ck_assert_int_eq(adj_gpt_cache_step(c, 5, lg, &err), ADJ_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "token 5 is not in [0, 5)"));
    ck_assert_int_eq(adj_gpt_cache_step(c, -1, lg, &err), ADJ_EINVAL);
    ck_assert_int_eq(adj_gpt_cache_step(c, 0, NULL, &err), ADJ_EINVAL);
    ck_assert_int_eq(adj_gpt_cache_length(c), 0);
    ck_assert_int_eq(adj_gpt_cache_length(NULL), 0);
    adj_gpt_cache_reset(NULL);
    adj_gpt_cache_free(NULL);
    adj_gpt_cache_free(c);
    adj_model_free(m);
}
END_TEST

static Suite *gpt_cache_suite(void)
{
    Suite *s = suite_create("gpt_cache");
    TCase *tc = tcase_create("gpt_cache");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, cache_f64);
    tcase_add_test(tc, cache_f32);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return s;
}

ADJ_CHECK_MAIN(gpt_cache_suite)
