/*
 * adjoint/model.h — models of any architecture, and their files.
 *
 * A model is an architecture name, a configuration (key/value strings),
 * parameters (an adj_params store, trained by the optimizers), buffers
 * (tensors saved with the model but not trained, such as batch norm's
 * running statistics) and a forward function.  A registry maps
 * architecture names to constructors; each architecture documents its
 * keys and the PyTorch module whose state_dict names its tensors carry
 * (docs/models.md).
 *
 *     const char *kv[] = {"sizes", "784,256,10", "act", "relu"};
 *     adj_rng rng;  adj_rng_seed(&rng, 1);
 *     adj_model *m = adj_model_new("mlp", 2, kv, ADJ_F32, &rng, &err);
 *     adj_var *logits = adj_model_forward(m, x);
 *     adj_model_write(m, "mlp.safetensors", &err);
 *
 * Model files are safetensors (safetensors.h): tensors under their
 * PyTorch names, and in __metadata__ "format" = "pt", "arch", "dtype",
 * "config.KEY" for every configuration key, and "crc32", the CRC-32 of
 * the data section in 8 hex digits, checked on load.
 */
#ifndef ADJOINT_MODEL_H
#define ADJOINT_MODEL_H

#include "core.h"
#include "nn.h"
#include "rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The registered architectures: count and names ("mlp", ...); NULL for a
 * bad index. */
ADJ_API int adj_arch_count(void);
ADJ_API const char *adj_arch_name(int i);

typedef struct adj_model adj_model;

/* A new model of architecture `arch` with n key/value pairs kv[2i],
 * kv[2i+1] (keys the architecture does not know are refused; missing
 * keys take its defaults, and the model's configuration then lists every
 * key), parameters of dtype (ADJ_F32 or ADJ_F64) initialised from rng.
 * NULL on failure, with ADJ_EINVAL naming the architecture, the key and
 * the value in err. */
ADJ_API adj_model *adj_model_new(const char *arch, int n, const char *const *kv, adj_dtype dtype,
                                 adj_rng *rng, adj_error *err);
/* A model of architecture "mlp" that owns m (freed with the model, also
 * on failure). */
ADJ_API adj_model *adj_model_from_mlp(adj_mlp *m, adj_error *err);
ADJ_API void adj_model_free(adj_model *m);

ADJ_API const char *adj_model_arch(const adj_model *m);
ADJ_API adj_dtype adj_model_dtype(const adj_model *m);
/* The configuration: every key with its value, in the architecture's
 * order; adj_model_config gives one value (NULL when absent). */
ADJ_API int adj_model_config_count(const adj_model *m);
ADJ_API const char *adj_model_config_key(const adj_model *m, int i);
ADJ_API const char *adj_model_config_value(const adj_model *m, int i);
ADJ_API const char *adj_model_config(const adj_model *m, const char *key);
/* The parameter store (owned by the model), and parameter i's name in
 * the model file (the PyTorch state_dict name). */
ADJ_API adj_params *adj_model_params(adj_model *m);
ADJ_API const char *adj_model_param_name(const adj_model *m, int i);
/* The MLP of an "mlp" model, NULL for any other. */
ADJ_API adj_mlp *adj_model_mlp(adj_model *m);

/* The generator of the model's dropout masks in training mode (every
 * model has one, used or not): adj_model_new seeds it from its rng,
 * adj_model_read and adj_model_load_hf from a fixed seed.  Reseed it (e.g. per
 * data-parallel rank) or copy its state to save and restore it; it is
 * owned by the model.  NULL for a NULL model. */
ADJ_API adj_rng *adj_model_dropout_rng(adj_model *m);
/* Training mode (dropout on, batch statistics) or evaluation mode. */
ADJ_API void adj_model_set_training(adj_model *m, int training);
/* The model's output for input x on x's tape, in the current mode (the
 * architecture documents the shapes); errors on x's tape. */
ADJ_API adj_var *adj_model_forward(adj_model *m, adj_var *x);

/*
 * Decoding a "gpt" model one token at a time with a key/value cache:
 * each step feeds the token at the next position and returns the logits
 * of that position, computing the blocks for that position only and
 * attending to the keys and values the cache kept of the earlier ones
 * (token t costs the dense layers of one position and O(t) attention,
 * not a forward over the prefix).  Evaluation mode (no dropout), in
 * double over the model's weights: the logits agree with
 * adj_model_forward's last position to rounding.  The cache reads the
 * model's parameters at each step and must not outlive the model; reset
 * it after the parameters change.
 */
typedef struct adj_gpt_cache adj_gpt_cache;
/* A cache for m, sized for n_positions positions; NULL with
 * ADJ_EINVAL for a NULL model or one that is not "gpt", ADJ_ENOMEM. */
ADJ_API adj_gpt_cache *adj_gpt_cache_new(adj_model *m, adj_error *err);
ADJ_API void adj_gpt_cache_free(adj_gpt_cache *c);
/* Forget every position (the next step is position 0). */
ADJ_API void adj_gpt_cache_reset(adj_gpt_cache *c);
/* Positions fed so far (0 for NULL). */
ADJ_API int64_t adj_gpt_cache_length(const adj_gpt_cache *c);
/* Feed token id at position adj_gpt_cache_length(c); logits gets
 * vocab_size values.  ADJ_EINVAL, with nothing changed, for a NULL cache
 * or logits, an id outside [0, vocab_size), or a cache that already holds
 * n_positions positions. */
ADJ_API adj_status adj_gpt_cache_step(adj_gpt_cache *c, int32_t id, double *logits,
                                      adj_error *err);

/* Save as safetensors, atomically as adj_file_write. */
ADJ_API adj_status adj_model_write(adj_model *m, const char *path, adj_error *err);
/* The bytes adj_model_write writes, from malloc (the caller frees them). */
ADJ_API adj_status adj_model_to_bytes(adj_model *m, void **bytes, size_t *n, adj_error *err);
/* Load a model file: safetensors with the metadata above (a file of
 * another dtype, F16 or BF16 included, is converted: F64 files give F64
 * models, the others F32), or an MLP file of the older format (io.h).
 * ADJ_EFORMAT naming the file and the problem: no or unknown "arch", a
 * checksum that does not match, a tensor missing, unexpected or of
 * another shape.  *out is owned by the caller (adj_model_free). */
ADJ_API adj_status adj_model_read(const char *path, adj_model **out, adj_error *err);

/* Load a GPT-2 checkpoint in the Hugging Face layout as a "gpt" model of
 * dtype (ADJ_F32 or ADJ_F64; the file's F16, BF16, F32 or F64 tensors
 * are converted):
 *   DIR/config.json: vocab_size, n_positions, n_embd, n_layer, n_head
 *     (integers) and optionally layer_norm_epsilon (default 1e-5);
 *     model_type, when present, must be "gpt2", activation_function
 *     "gelu_new" and n_inner null or 4 n_embd;
 *   DIR/model.safetensors: GPT-2's tensors (wte.weight, wpe.weight,
 *     h.{i}.ln_1.*, h.{i}.attn.c_attn.*, h.{i}.attn.c_proj.*,
 *     h.{i}.ln_2.*, h.{i}.mlp.c_fc.*, h.{i}.mlp.c_proj.*, ln_f.*), all
 *     with or all without the prefix "transformer.", the Conv1D weights
 *     (in, out) as stored; h.{i}.attn.bias and h.{i}.attn.masked_bias
 *     (causal-mask buffers) are ignored, and an lm_head.weight must equal
 *     wte.weight (the head is tied).
 * config.json is read up to 1 MiB; the parameter count the configuration
 * implies is bounded by the size of model.safetensors before anything is
 * allocated.  ADJ_EINVAL for a NULL or empty dir, a bad dtype, NULL out;
 * ADJ_EIO for a file that cannot be read; ADJ_EFORMAT naming the file
 * and the key or tensor (missing, of another shape, unexpected, an
 * lm_head that is not wte).  *out is owned by the caller
 * (adj_model_free); the model saves as any (adj_model_write). */
ADJ_API adj_status adj_model_load_hf(const char *dir, adj_dtype dtype, adj_model **out,
                                     adj_error *err);

#ifdef __cplusplus
}
#endif
#endif
