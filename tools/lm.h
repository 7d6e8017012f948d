/*
 * Language models in the command (train_lm.c, sample.c, eval.c): data,
 * loss, evaluation.
 */
#ifndef ADJ_TOOLS_LM_H
#define ADJ_TOOLS_LM_H

#include <adjoint.h>

#define ADJ_LM_DEFAULT_TEXT "/usr/share/dict/words"

/* train --model rnn|lstm|gru, and sample. */
int adj_cmd_train_lm(int argc, char **argv);
int adj_cmd_sample(int argc, char **argv);
/* eval of a language model: the mean validation cross-entropy. */
int adj_tool_eval_lm(adj_model *m, const char *model, const char *spec, int json);

/* "text:FILE" or "tokens:FILE" split with val_frac (text lines shuffled
 * with seed); with a model, the ids are those of its vocabulary (its
 * "chars"); NULL after printing the error. */
adj_corpus *adj_tool_lm_data(const char *spec, double val_frac, uint64_t seed);
int adj_tool_lm_remap(adj_corpus *c, adj_model *m);
/* The model's vocabulary size (configuration "vocab" or "vocab_size"; 0
 * for a model that is not a language model) and the longest context it
 * takes ("n_positions"; 0: any). */
long adj_tool_lm_vocab(const adj_model *m);
long adj_tool_lm_context(const adj_model *m);
/* A language model read from PATH: a model file, or a directory in the
 * Hugging Face GPT-2 layout; NULL after printing the error with `who`. */
adj_model *adj_tool_lm_open(const char *who, const char *path);
/* *out = the BPE tokenizer of a Hugging Face directory PATH (vocab.json
 * and merges.txt), or NULL when PATH is not a directory or has no
 * vocab.json; -1 after printing the error with `who` when it has one
 * that cannot be read. */
int adj_tool_lm_bpe(const char *who, const char *path, adj_bpe **out);
/* Text data (a corpus of bytes) for a model of token ids read from a
 * Hugging Face directory PATH with a tokenizer: each part encoded with
 * GPT-2's BPE (the ids replace the bytes).  0 when done or not needed,
 * -1 after printing the error. */
int adj_tool_lm_tokenize(adj_corpus *c, adj_model *m, const char *path);
/* Mean cross-entropy of the model's logits for x (B, T) against y. */
adj_var *adj_tool_lm_loss(adj_model *m, adj_tape *t, const int32_t *x, const int32_t *y, size_t B,
                          size_t T);
/* Mean validation loss over nb batches of B windows of T (seeded), in
 * evaluation mode; NaN when the validation part is too short. */
double adj_tool_lm_eval(adj_model *m, adj_tape *t, const adj_corpus *c, size_t B, size_t T,
                        size_t nb, uint64_t seed);

#endif
