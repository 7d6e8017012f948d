/*
 * The data sets of the train and eval commands.
 */
#ifndef ADJ_TOOLS_DATA_H
#define ADJ_TOOLS_DATA_H

#include <adjoint.h>

typedef enum { ADJ_TOOL_IDX = 0, ADJ_TOOL_CSV } adj_tool_kind;

typedef struct adj_tool_data {
    adj_tool_kind kind;
    adj_dataset *train, *val, *test; /* raw features */
} adj_tool_data;

/* Load `spec` ("idx:DIR" or "csv:FILE"): for IDX the t10k files are the
 * test set and val_frac of the train files (seeded shuffle) the
 * validation set; for CSV 20% of the rows are the test set and val_frac of
 * the rest the validation set.  test_only loads the test set alone (for
 * CSV: the whole file).  0 on success; -1 after printing the error. */
int adj_tool_data_load(const char *spec, const char *label, double val_frac, uint64_t seed,
                       int test_only, adj_tool_data *out);
void adj_tool_data_free(adj_tool_data *d);
/* 0 if spec has the form idx:DIR or csv:FILE; else print why and -1. */
int adj_tool_data_spec_check(const char *spec);
/* The number of classes: 1 + the largest label of any split. */
int adj_tool_classes(const adj_tool_data *d);

/* Check --out before any work: create the directory if it is missing
 * (its parent must exist), require a directory files can be created in,
 * and that none of model.safetensors, model.adj, curves.csv, curves.svg is in the way as
 * something other than a regular file.  0, or -1 after printing why. */
int adj_tool_prepare_out(const char *out);
/* Write out/model.safetensors, out/model.adj (an MLP's, in the older
 * format), out/curves.csv and out/curves.svg (n epochs of loss,
 * validation and test metric ("accuracy" or "mse"), learning rate; NaN:
 * no such set)
 * together with adj_files_write: on a write error all of them stay as
 * they were.  0, or -1 after printing the error. */
int adj_tool_write_outputs(const char *out, adj_model *model, const char *metric, int n,
                           const double *loss, const double *va, const double *te, const double *lr);

/* Write loss and metric ("accuracy", "mse") curves to f as an SVG
 * picture (two panels); a series of NaN (no validation or test set) is
 * left out.  The caller checks f for errors. */
void adj_tool_write_svg(FILE *f, const char *metric, int n, const double *loss,
                        const double *val_acc, const double *test_acc);

/* Byte images (IDX) divided by 255, as cnn and autoencoder models take
 * them (train and eval); CSV rows are left as they are. */
void adj_tool_scale_images(adj_tool_data *d);
/* An autoencoder's pictures in dir (created if missing):
 * reconstructions.png, test images of each class above their
 * reconstructions, and for a code of 2 units code.svg, the codes of the
 * test images coloured by class.  0, or -1 after printing the error. */
int adj_tool_ae_pictures(const char *dir, adj_model *m, const adj_train_data *td,
                         const adj_tool_data *d);

#endif
