/*
 * The training command's outputs: checking --out before the work, and
 * writing model.safetensors, model.adj, curves.csv and curves.svg as one set.
 */
#include "commands.h"
#include "data.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A missing value (no validation or test set) is an empty CSV field. */
static void csv_value(FILE *f, const char *fmt, double v)
{
    fputc(',', f);
    if (!isnan(v))
        fprintf(f, fmt, v);
}

static void write_curves_csv(FILE *f, const char *metric, int n, const double *loss,
                             const double *va, const double *te, const double *lr)
{
    fprintf(f, "epoch,train_loss,val_%s,test_%s,lr\n", metric, metric);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%d,%.9g", i + 1, loss[i]);
        csv_value(f, "%.6f", va[i]);
        csv_value(f, "%.6f", te[i]);
        fprintf(f, ",%.9g\n", lr[i]);
    }
}

/* the model twice: safetensors (every architecture) and the MLP file format
 * of earlier versions */
#define N_OUT 4
static const char *const OUT_FILES[N_OUT] = {"model.safetensors", "model.adj", "curves.csv",
                                             "curves.svg"};

/* Check --out before any work: create the directory if it is missing
 * (its parent must exist), require a directory we can create files in,
 * and that none of the outputs is in the way as something other than a
 * regular file.  0 or -1 (printed). */
int adj_tool_prepare_out(const char *out)
{
    struct stat sb;
    if (stat(out, &sb) != 0) {
        if (errno != ENOENT || mkdir(out, 0755) != 0) {
            int e = errno;
            fprintf(stderr, "adjoint: --out %s: cannot create the directory: %s%s\n", out,
                    strerror(e), e == ENOENT ? " (its parent directory must exist)" : "");
            return -1;
        }
    } else if (!S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "adjoint: --out %s exists and is not a directory\n", out);
        return -1;
    }
    char path[4096];
    if (snprintf(path, sizeof path, "%s/.adjoint-probe-XXXXXX", out) >= (int)sizeof path) {
        fprintf(stderr, "adjoint: --out %s: name too long\n", out);
        return -1;
    }
    int fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "adjoint: --out %s: cannot write in the directory: %s\n", out,
                strerror(errno));
        return -1;
    }
    close(fd);
    unlink(path);
    for (int i = 0; i < N_OUT; i++) {
        snprintf(path, sizeof path, "%s/%s", out, OUT_FILES[i]);
        if (adj_tool_check_target("adjoint", path))
            return -1;
    }
    return 0;
}

/* Rank 0's files: the model, curves.csv and curves.svg, replaced together
 * (adj_files_write: on a full disk all three stay as they were).  0 or -1
 * (printed). */
int adj_tool_write_outputs(const char *out, adj_model *model, const char *metric, int n,
                           const double *loss, const double *va, const double *te, const double *lr)
{
    adj_error err;
    void *st = NULL, *adj = NULL;
    char *csv = NULL, *svg = NULL;
    size_t nt = 0, nm = 0, nc = 0, ns = 0;
    int rc = -1;
    adj_mlp *m = adj_model_mlp(model);
    if (adj_model_to_bytes(model, &st, &nt, &err) != ADJ_OK ||
        (m && adj_model_encode(m, &adj, &nm, &err) != ADJ_OK)) {
        fprintf(stderr, "adjoint: %s\n", err.message);
        goto done;
    }
    FILE *f = open_memstream(&csv, &nc);
    if (f) {
        write_curves_csv(f, metric, n, loss, va, te, lr);
        if (fclose(f) != 0)
            f = NULL;
    }
    FILE *g = f ? open_memstream(&svg, &ns) : NULL;
    if (g) {
        adj_tool_write_svg(g, metric, n, loss, va, te);
        if (fclose(g) != 0)
            g = NULL;
    }
    if (!f || !g) {
        fprintf(stderr, "adjoint: out of memory for the curves\n");
        goto done;
    }
    char paths[N_OUT][4096];
    const char *pp[N_OUT];
    const void *bytes[N_OUT] = {st, adj, csv, svg};
    size_t sizes[N_OUT] = {nt, nm, nc, ns};
    int nf = 0;
    for (int i = 0; i < N_OUT; i++) {
        if (!bytes[i])
            continue; /* no MLP file for other architectures */
        snprintf(paths[nf], sizeof paths[nf], "%s/%s", out, OUT_FILES[i]);
        pp[nf] = paths[nf];
        bytes[nf] = bytes[i];
        sizes[nf] = sizes[i];
        nf++;
    }
    if (adj_files_write(nf, pp, bytes, sizes, &err) != ADJ_OK) {
        fprintf(stderr, "adjoint: %s (the previous outputs in %s are unchanged)\n", err.message,
                out);
        goto done;
    }
    rc = 0;
done:
    free(st);
    free(adj);
    free(csv);
    free(svg);
    return rc;
}
