/*
 * Models of any architecture (include/adjoint/model.h): the architecture
 * table entry and the model object.  To add an architecture: a file
 * src/nn/arch_NAME.c defining `const adj_arch adj_arch_NAME`, and one line
 * in the registry (src/nn/model.c, ARCHS).
 */
#ifndef ADJ_NN_MODEL_INTERNAL_H
#define ADJ_NN_MODEL_INTERNAL_H

#include "adjoint/model.h"
#include "adjoint/safetensors.h"
#include "nn/nn_internal.h"

/* A configuration key and its default value. */
typedef struct adj_arch_key {
    const char *key, *def;
} adj_arch_key;

/* A buffer: a tensor saved with the model, not trained (doubles owned
 * by the architecture's state; written as F64). */
typedef struct adj_model_buf {
    char name[96];
    int ndim;
    int64_t shape[ADJ_MAX_DIMS];
    double *data;
} adj_model_buf;

#define ADJ_MODEL_MAX_BUFS 64

typedef struct adj_arch {
    const char *name;
    const adj_arch_key *keys; /* every key it accepts, NULL-terminated */
    /* Make m->p, m->pnames (one malloc'd name per parameter) and m->state
     * from the configuration (every key is set: adj_model_config), the
     * parameters initialised from rng.  Messages name the key and value. */
    adj_status (*build)(adj_model *m, adj_rng *rng, adj_error *err);
    /* The number of parameter and buffer elements the configuration
     * implies, without allocating (a loader compares it with the file's
     * size before building); ADJ_EINVAL for a bad configuration. */
    adj_status (*count)(const adj_model *m, uint64_t *n, adj_error *err);
    adj_var *(*forward)(adj_model *m, adj_var *x);
    /* Free m->state (and m->p when the state owns it: set m->p NULL).
     * NULL: the state is one malloc'd block and the model owns m->p, which
     * adj_model_free frees both. */
    void (*destroy)(adj_model *m);
    /* Optional: mode change, buffers (up to ADJ_MODEL_MAX_BUFS), tensors
     * of a file the generic loader did not use (mark them in used[]),
     * the MLP inside. */
    void (*set_training)(adj_model *m, int training);
    int (*buffers)(adj_model *m, adj_model_buf *out);
    adj_status (*load_extra)(adj_model *m, const adj_safetensors *f, unsigned char *used,
                             const char *path, adj_error *err);
    adj_mlp *(*mlp)(adj_model *m);
} adj_arch;

struct adj_model {
    const adj_arch *arch;
    adj_dtype dtype;
    int nconf;
    char **keys, **values; /* in the architecture's key order */
    adj_params *p;
    char **pnames;
    void *state;
    int training;
    adj_rng drop; /* dropout masks (adj_model_dropout_rng) */
};

const adj_arch *adj_arch_find(const char *name);
/* A model of arch with the configuration set from kv (defaults for
 * the keys not given) but nothing built; NULL with err set on failure. */
adj_model *adj_model_alloc(const adj_arch *arch, int n, const char *const *kv, adj_dtype dtype,
                           adj_error *err);
/* Configuration values parsed, with messages naming the arch and key. */
adj_status adj_model_get_int(const adj_model *m, const char *key, int64_t lo, int64_t hi,
                             int64_t *out, adj_error *err);
adj_status adj_model_get_double(const adj_model *m, const char *key, double lo, double hi,
                                double *out, adj_error *err);
/* A comma-separated list of at most max integers in [lo, hi]. */
adj_status adj_model_get_ints(const adj_model *m, const char *key, int max, int64_t lo, int64_t hi,
                              int64_t *out, int *n, adj_error *err);
/* Set (replace) a configuration value. */
adj_status adj_model_set_config(adj_model *m, const char *key, const char *value, adj_error *err);
/* m->pnames for the current store, from printf-style names (NULL: the
 * store's own names). */
adj_status adj_model_name_params(adj_model *m, adj_error *err);

/* PyTorch's default initialisation of Conv2d and Linear (kaiming_uniform
 * with a = sqrt(5)): parameters iw and ib of p from U(-a, a), a =
 * 1/sqrt(fan_in), drawn from rng in order (arch_cnn.c). */
void adj_model_torch_uniform(adj_params *p, int iw, int ib, int64_t fan_in, adj_rng *rng);

extern const adj_arch adj_arch_mlp;
extern const adj_arch adj_arch_rnn, adj_arch_lstm, adj_arch_gru; /* arch_rnn.c */
extern const adj_arch adj_arch_cnn, adj_arch_autoencoder;
extern const adj_arch adj_arch_gpt; /* arch_gpt.c */

#endif
