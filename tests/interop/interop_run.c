/*
 * The adjoint side of the PyTorch interoperability checks (torch_models.py):
 *
 *     interop_run MODEL IN OUT
 *
 * loads MODEL (adj_model_read; a directory: adj_model_load_hf, of the dtype
 * IN's __metadata__ "dtype" names, F32 by default), reads IN (safetensors): "x", features
 * (F32/F64, (batch, features); an MLP's input transform is applied as
 * adjoint's own commands apply it) or token ids (an integer dtype, for
 * sequence models), optionally "y", labels (I64/I32: (batch) for
 * classifiers, (batch, time) for token models), and __metadata__ "mode",
 * "train" or "eval" (default).  It writes OUT (safetensors, all F64):
 * "logits", and with labels "loss" (mean cross-entropy) and "grad.NAME"
 * for every parameter after one backward pass.  Exit 0, or 1 with the
 * error on stderr.
 */
#include <adjoint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int fail(const char *what, const char *msg)
{
    fprintf(stderr, "interop_run: %s: %s\n", what, msg);
    return 1;
}

/* An integer tensor as int32 (ids and labels are small). */
static int32_t *ints(const adj_st_tensor *t)
{
    int32_t *v = malloc((t->numel + 1) * sizeof *v);
    const unsigned char *p = t->data;
    for (size_t i = 0; v && i < t->numel; i++) {
        int64_t x = 0;
        if (t->dtype == ADJ_ST_I64)
            memcpy(&x, p + 8 * i, 8);
        else {
            int32_t y;
            memcpy(&y, p + 4 * i, 4);
            x = y;
        }
        v[i] = (int32_t)x;
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return fail("usage", "interop_run MODEL IN OUT");
    adj_error err;
    adj_model *m = NULL;
    adj_safetensors *in = NULL;
    if (adj_st_read(argv[2], &in, &err) != ADJ_OK)
        return fail(argv[2], err.message);
    struct stat sb;
    const char *hf_dtype = adj_st_meta(in, "dtype");
    if (stat(argv[1], &sb) == 0 && S_ISDIR(sb.st_mode)) {
        adj_model_load_hf(argv[1], hf_dtype && strcmp(hf_dtype, "F64") == 0 ? ADJ_F64 : ADJ_F32, &m, &err);
    } else {
        adj_model_read(argv[1], &m, &err);
    }
    if (!m) {
        adj_st_free(in);
        return fail(argv[1], err.message);
    }
    const adj_st_tensor *xt = adj_st_find(in, "x"), *yt = adj_st_find(in, "y");
    if (!xt || xt->ndim < 1)
        return fail(argv[2], "no tensor \"x\"");
    const char *mode = adj_st_meta(in, "mode");
    adj_model_set_training(m, mode && strcmp(mode, "train") == 0);
    adj_dtype dt = adj_model_dtype(m);
    adj_tape *t = adj_tape_new();
    adj_var *x;
    int32_t *ids = NULL, *labels = NULL;
    double *xd = NULL;
    int tokens = xt->dtype == ADJ_ST_I64 || xt->dtype == ADJ_ST_I32;
    if (tokens) {
        ids = ints(xt);
        x = adj_index(t, xt->ndim, xt->shape, ids);
    } else {
        xd = malloc((xt->numel + 1) * sizeof *xd);
        if (adj_st_convert(xt, ADJ_F64, xd, &err) != ADJ_OK)
            return fail(argv[2], err.message);
        adj_mlp *mlp = adj_model_mlp(m);
        const double *sh, *sc;
        if (mlp && adj_mlp_input_transform(mlp, &sh, &sc) && xt->ndim == 2) {
            size_t cols = (size_t)xt->shape[1];
            for (size_t i = 0; i < xt->numel; i++) {
                double v = (xd[i] - sh[i % cols]) * sc[i % cols];
                xd[i] = dt == ADJ_F32 ? (double)(float)v : v;
            }
        }
        if (dt == ADJ_F64) {
            x = adj_constant_f64(t, xt->ndim, xt->shape, xd);
        } else {
            float *xf = malloc((xt->numel + 1) * sizeof *xf);
            for (size_t i = 0; i < xt->numel; i++)
                xf[i] = (float)xd[i];
            x = adj_constant_f32(t, xt->ndim, xt->shape, xf);
            free(xf);
        }
    }
    adj_var *logits = adj_model_forward(m, x);
    adj_var *loss = NULL;
    if (logits && yt) {
        labels = ints(yt);
        if (tokens) {
            int64_t v = adj_dim(logits, adj_ndim(logits) - 1);
            int64_t rows = (int64_t)adj_numel(logits) / (v ? v : 1);
            adj_var *flat = adj_reshape(logits, 2, ((int64_t[]){rows, v}));
            adj_var *tg = adj_index(t, 1, &rows, labels);
            loss = adj_cross_entropy(flat, tg, -100);
        } else {
            loss = adj_softmax_cross_entropy(logits, labels);
        }
        adj_params_zero_grad(adj_model_params(m));
        if (loss)
            adj_backward(loss);
    }
    if (adj_tape_status(t) != ADJ_OK)
        return fail("forward/backward", adj_tape_message(t));
    /* everything out as F64 */
    adj_st_writer *w = adj_st_writer_new();
    size_t nl = adj_numel(logits);
    double *lv = malloc((nl + 1) * sizeof *lv), lossv = 0;
    adj_copy_value(logits, lv);
    int64_t shape[ADJ_MAX_DIMS];
    for (int k = 0; k < adj_ndim(logits); k++)
        shape[k] = adj_dim(logits, k);
    adj_st_writer_add(w, "logits", ADJ_ST_F64, adj_ndim(logits), shape, lv, NULL);
    adj_params *p = adj_model_params(m);
    int np = adj_params_count(p);
    double **gs = calloc((size_t)np + 1, sizeof *gs);
    char **names = calloc((size_t)np + 1, sizeof *names);
    if (loss) {
        lossv = adj_item(loss);
        adj_st_writer_add(w, "loss", ADJ_ST_F64, 0, NULL, &lossv, NULL);
        for (int i = 0; i < np; i++) {
            size_t n = adj_params_tensor_numel(p, i);
            gs[i] = malloc((n + 1) * sizeof **gs);
            const void *g = adj_params_grad(p, i);
            for (size_t j = 0; j < n; j++)
                gs[i][j] = dt == ADJ_F64 ? ((const double *)g)[j] : ((const float *)g)[j];
            names[i] = malloc(strlen(adj_model_param_name(m, i)) + 8);
            sprintf(names[i], "grad.%s", adj_model_param_name(m, i));
            adj_st_writer_add(w, names[i], ADJ_ST_F64, adj_params_tensor_ndim(p, i),
                              adj_params_tensor_shape(p, i), gs[i], NULL);
        }
    }
    int rc = adj_st_writer_save(w, argv[3], &err) == ADJ_OK ? 0 : fail(argv[3], err.message);
    for (int i = 0; i < np; i++) {
        free(gs[i]);
        free(names[i]);
    }
    free(gs);
    free(names);
    free(lv);
    adj_st_writer_free(w);
    adj_tape_free(t);
    free(ids);
    free(labels);
    free(xd);
    adj_st_free(in);
    adj_model_free(m);
    return rc;
}
