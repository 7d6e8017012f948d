/*
 * Files in and out.
 *
 * In: a stream through zlib's gz interface (gzip and plain files alike)
 * that readers pull from in steps, so that they check a header before they
 * read on, and never hold more than the header declares or the file holds,
 * whichever is less.
 *
 * Out: atomic replacement of one file or of a set of files.  Each file's
 * bytes go to a fresh temporary file next to its target, which is flushed
 * and fsynced; only when every one is written are they renamed over their
 * targets, then the directories are fsynced.  A target that exists and is
 * not a regular file (a directory, a device, a FIFO, a socket) is refused
 * before anything is written; a symbolic link to a regular file is written
 * through (the link stays, its target is replaced).
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "io/io_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ----------------------------------------------------------------- input */

adj_status adj_io_open(adj_io_in *in, const char *path, adj_error *err)
{
    in->f = NULL;
    in->path = path;
    if (!path)
        return adj_err_set(err, ADJ_EINVAL, "NULL path");
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return adj_err_set(err, ADJ_EIO, "%s: cannot open: %s", path,
                           errno ? strerror(errno) : "out of memory");
    gzbuffer(f, 1u << 17);
    in->f = f;
    return ADJ_OK;
}

void adj_io_close(adj_io_in *in)
{
    if (in->f)
        gzclose(in->f);
    in->f = NULL;
}

adj_status adj_io_read(adj_io_in *in, void *buf, size_t n, size_t *got, adj_error *err)
{
    unsigned char *b = buf;
    size_t have = 0;
    *got = 0;
    while (have < n) {
        size_t want = n - have > (1u << 30) ? (1u << 30) : n - have;
        int k = gzread(in->f, b + have, (unsigned)want);
        int zerr = Z_OK;
        const char *msg = k <= 0 ? gzerror(in->f, &zerr) : NULL;
        if (k < 0 || (k == 0 && zerr != Z_OK && zerr != Z_STREAM_END)) {
            *got = have;
            if (zerr == Z_ERRNO)
                return adj_err_set(err, ADJ_EIO, "%s: read error: %s", in->path, strerror(errno));
            return adj_err_set(err, ADJ_EFORMAT, "%s: corrupt or truncated gzip data (%s)",
                               in->path, msg && *msg ? msg : "zlib error");
        }
        if (k == 0)
            break;
        have += (size_t)k;
    }
    *got = have;
    return ADJ_OK;
}

adj_status adj_io_read_upto(adj_io_in *in, const void *prefix, size_t plen, size_t max,
                            const adj_allocator *al, unsigned char **buf, size_t *len,
                            size_t *cap_out, int *more, adj_error *err)
{
    *buf = NULL;
    *len = *cap_out = 0;
    *more = 0;
    size_t total = plen + max; /* callers keep max far below SIZE_MAX */
    size_t cap = total < (1u << 16) ? total : (1u << 16);
    if (cap == 0)
        cap = 1;
    unsigned char *b = al->alloc(al->ctx, cap);
    if (!b)
        return adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", in->path);
    if (plen)
        memcpy(b, prefix, plen);
    size_t n = plen;
    adj_status st = ADJ_OK;
    for (;;) {
        if (n == cap && cap < total) {
            /* grow with the data that actually arrives, never past total */
            size_t ncap = cap > total / 2 ? total : cap * 2;
            unsigned char *nb = al->alloc(al->ctx, ncap);
            if (!nb) {
                st = adj_err_set(err, ADJ_ENOMEM, "%s: out of memory after %zu bytes", in->path,
                                 n);
                break;
            }
            memcpy(nb, b, n);
            al->free(al->ctx, b, cap);
            b = nb;
            cap = ncap;
        }
        if (n == total)
            break;
        size_t got;
        st = adj_io_read(in, b + n, cap - n, &got, err);
        n += got;
        if (st != ADJ_OK || n < cap)
            break;
    }
    if (st == ADJ_OK && n == total) {
        unsigned char one;
        size_t got;
        st = adj_io_read(in, &one, 1, &got, err);
        *more = got == 1;
    }
    if (st != ADJ_OK) {
        al->free(al->ctx, b, cap);
        return st;
    }
    *buf = b;
    *len = n;
    *cap_out = cap;
    return ADJ_OK;
}

/* ---------------------------------------------------------------- output */

static const char *kind_of(mode_t m)
{
    return S_ISDIR(m)    ? "a directory"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISSOCK(m) ? "a socket"
                         : "not a regular file";
}

adj_status adj_io_check_target(const char *path, adj_error *err)
{
    struct stat sb;
    if (!path || !*path)
        return adj_err_set(err, ADJ_EINVAL, "%s file name", path ? "empty" : "NULL");
    if (stat(path, &sb) == 0) {
        if (!S_ISREG(sb.st_mode))
            return adj_err_set(err, ADJ_EIO, "%s is %s, not a regular file: not replaced", path,
                               kind_of(sb.st_mode));
        return ADJ_OK;
    }
    if (lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode))
        return adj_err_set(err, ADJ_EIO, "%s is a symbolic link to a missing file: not replaced",
                           path);
    return ADJ_OK; /* absent (or unreachable: creating the temporary file says why) */
}

typedef struct staged {
    char *target; /* the path written (a symlink's target, resolved) */
    char *tmp;
    size_t target_size, tmp_size;
    int done; /* renamed */
} staged;

static void free_staged(staged *s, const adj_allocator *al)
{
    if (s->tmp) {
        if (!s->done)
            unlink(s->tmp);
        al->free(al->ctx, s->tmp, s->tmp_size);
    }
    if (s->target)
        al->free(al->ctx, s->target, s->target_size);
    s->tmp = s->target = NULL;
}

static char *copy_str(const adj_allocator *al, const char *s, size_t extra, size_t *size)
{
    size_t n = strlen(s);
    *size = n + 1 + extra;
    char *c = al->alloc(al->ctx, *size);
    if (c)
        memcpy(c, s, n + 1);
    return c;
}

static adj_status write_all(int fd, const unsigned char *b, size_t n)
{
    while (n) {
        ssize_t k = write(fd, b, n > (1u << 30) ? (1u << 30) : n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0)
                errno = ENOSPC;
            return ADJ_EIO;
        }
        b += k;
        n -= (size_t)k;
    }
    return ADJ_OK;
}

/* Check the target, write bytes to a temporary file beside it, fsync. */
static adj_status stage(staged *s, const char *path, const void *bytes, size_t n,
                        const adj_allocator *al, adj_error *err)
{
    adj_status st = adj_io_check_target(path, err);
    if (st != ADJ_OK)
        return st;
    struct stat sb, lsb;
    mode_t mode = 0644;
    const char *target = path;
    char *resolved = NULL;
    if (stat(path, &sb) == 0) {
        mode = sb.st_mode & 07777;
        if (lstat(path, &lsb) == 0 && S_ISLNK(lsb.st_mode)) {
            resolved = realpath(path, NULL);
            if (!resolved)
                return adj_err_set(err, ADJ_EIO, "%s: cannot resolve the symbolic link: %s", path,
                                   strerror(errno));
            target = resolved;
        }
    }
    s->target = copy_str(al, target, 0, &s->target_size);
    s->tmp = s->target ? copy_str(al, target, 12, &s->tmp_size) : NULL;
    free(resolved);
    if (!s->target || !s->tmp)
        return adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", path);
    strcat(s->tmp, ".tmp.XXXXXX");
    int fd = mkstemp(s->tmp);
    if (fd < 0) {
        int e = errno;
        al->free(al->ctx, s->tmp, s->tmp_size);
        s->tmp = NULL;
        return adj_err_set(err, ADJ_EIO, "%s: cannot create a temporary file: %s", path,
                           strerror(e));
    }
    const char *what = NULL;
    (void)fchmod(fd, mode);
    if (write_all(fd, bytes, n) != ADJ_OK)
        what = "write";
    else if (fsync(fd) != 0)
        what = "fsync";
    int e = errno;
    if (close(fd) != 0 && !what) {
        what = "close";
        e = errno;
    }
    if (what)
        return adj_err_set(err, ADJ_EIO, "%s: %s failed: %s", path, what, strerror(e));
    return ADJ_OK;
}

/* fsync the directory holding path (best effort: some file systems refuse) */
static void sync_dir(char *path)
{
    char *slash = strrchr(path, '/');
    char keep = 0;
    if (slash) {
        keep = slash == path ? slash[1] : slash[0];
        if (slash == path)
            slash[1] = '\0';
        else
            *slash = '\0';
    }
    int dfd = open(slash ? path : ".", O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    if (slash) {
        if (slash == path)
            slash[1] = keep;
        else
            *slash = keep;
    }
}

adj_status adj_io_write_files(int count, const char *const *paths, const void *const *bytes,
                              const size_t *sizes, const adj_allocator *al, adj_error *err)
{
    if (count < 1 || !paths || !bytes || !sizes)
        return adj_err_set(err, ADJ_EINVAL, "adj_files_write: %s",
                           count < 1 ? "no files" : "NULL argument");
    for (int i = 0; i < count; i++)
        if (!paths[i] || (!bytes[i] && sizes[i]))
            return adj_err_set(err, ADJ_EINVAL, "adj_files_write: file %d: NULL %s", i,
                               paths[i] ? "bytes" : "path");
    staged *s = al->alloc(al->ctx, (size_t)count * sizeof *s);
    if (!s)
        return adj_err_set(err, ADJ_ENOMEM, "%s: out of memory", paths[0]);
    memset(s, 0, (size_t)count * sizeof *s);
    adj_status st = ADJ_OK;
    for (int i = 0; i < count && st == ADJ_OK; i++)
        st = stage(&s[i], paths[i], bytes[i], sizes[i], al, err);
    for (int i = 0; i < count && st == ADJ_OK; i++) {
        if (rename(s[i].tmp, s[i].target) != 0)
            st = adj_err_set(err, ADJ_EIO, "%s: rename failed: %s", paths[i], strerror(errno));
        else
            s[i].done = 1;
    }
    for (int i = 0; i < count && st == ADJ_OK; i++)
        sync_dir(s[i].target);
    for (int i = 0; i < count; i++)
        free_staged(&s[i], al);
    al->free(al->ctx, s, (size_t)count * sizeof *s);
    if (st == ADJ_OK)
        adj_err_clear(err);
    return st;
}

adj_status adj_files_write(int count, const char *const *paths, const void *const *bytes,
                           const size_t *sizes, adj_error *err)
{
    return adj_io_write_files(count, paths, bytes, sizes, &adj_default_allocator, err);
}

adj_status adj_file_write(const char *path, const void *bytes, size_t n, adj_error *err)
{
    if (!path)
        return adj_err_set(err, ADJ_EINVAL, "adj_file_write: NULL path");
    if (!bytes && n)
        return adj_err_set(err, ADJ_EINVAL, "adj_file_write: %s: NULL bytes", path);
    return adj_io_write_files(1, &path, &bytes, &n, &adj_default_allocator, err);
}
