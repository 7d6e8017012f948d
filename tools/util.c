/*
 * Small helpers shared by the subcommands.
 */
#include "commands.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

double adj_tool_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int adj_tool_long(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "adjoint: %s needs an integer in [%ld, %ld], got '%s'\n", opt, lo, hi,
                s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

int adj_tool_double(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno) {
        fprintf(stderr, "adjoint: %s needs a number, got '%s'\n", opt, s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

int adj_tool_number(const char *opt, const char *s, double lo, int lo_open, double hi,
                    int hi_open, double *out)
{
    char *end;
    double v = s ? strtod(s, &end) : NAN;
    int ok = s && *s && !*end && isfinite(v) && (lo_open ? v > lo : v >= lo) &&
             (hi_open ? v < hi : v <= hi);
    if (!ok) {
        fprintf(stderr, "adjoint: %s needs a number in %c%g, %g%c, got '%s'\n", opt,
                lo_open ? '(' : '[', lo, hi, hi_open ? ')' : ']', s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

int adj_tool_flush(FILE *f, const char *what)
{
    errno = 0;
    int bad = fflush(f) != 0;
    int e = errno;
    bad |= ferror(f) != 0;
    if (bad)
        fprintf(stderr, "adjoint: cannot write %s: %s\n", what, e ? strerror(e) : "write error");
    return bad ? -1 : 0;
}

int adj_tool_check_target(const char *cmd, const char *path)
{
    struct stat sb, lsb;
    int exists = stat(path, &sb) == 0;
    if (exists && S_ISREG(sb.st_mode))
        return 0;
    if (!exists && !(lstat(path, &lsb) == 0 && S_ISLNK(lsb.st_mode)))
        return 0;
    fprintf(stderr, "%s: %s is %s, not a regular file: it would not be replaced\n", cmd, path,
            !exists                 ? "a symbolic link to a missing file"
            : S_ISDIR(sb.st_mode)   ? "a directory"
            : S_ISCHR(sb.st_mode)   ? "a character device"
            : S_ISBLK(sb.st_mode)   ? "a block device"
            : S_ISFIFO(sb.st_mode)  ? "a FIFO"
                                    : "a socket");
    return -1;
}

void adj_tool_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

size_t adj_tool_param_elems(const adj_params *p)
{
    size_t n = 0;
    for (int i = 0, c = adj_params_count(p); i < c; i++)
        n += adj_params_tensor_numel(p, i);
    return n;
}
