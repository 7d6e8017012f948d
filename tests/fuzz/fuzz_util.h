/*
 * Shared by the libFuzzer targets: the readers under test take a path, so
 * each input is written to one scratch file per process first.
 */
#ifndef ADJ_FUZZ_UTIL_H
#define ADJ_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fuzz_file {
    char path[256];
    int fd;
} fuzz_file;

static fuzz_file *fuzz_files[4];

static void fuzz_cleanup(void)
{
    for (int i = 0; i < 4; i++)
        if (fuzz_files[i])
            unlink(fuzz_files[i]->path);
}

/* Open (once) a scratch file named after `tag` in $TMPDIR; it is removed
 * at exit. */
static inline fuzz_file *fuzz_scratch(fuzz_file *f, const char *tag)
{
    if (f->path[0])
        return f;
    int slot = 0;
    while (slot < 4 && fuzz_files[slot])
        slot++;
    if (slot == 0)
        atexit(fuzz_cleanup);
    if (slot < 4)
        fuzz_files[slot] = f;
    const char *dir = getenv("TMPDIR");
    snprintf(f->path, sizeof f->path, "%s/adj-fuzz-%s-XXXXXX", dir && *dir ? dir : "/tmp", tag);
    f->fd = mkstemp(f->path);
    if (f->fd < 0) {
        perror(f->path);
        abort(); /* the harness cannot run at all */
    }
    return f;
}

/* Replace the scratch file's content by data[0..size). */
static inline const char *fuzz_write(fuzz_file *f, const void *data, size_t size)
{
    if (ftruncate(f->fd, 0) != 0 || (size && pwrite(f->fd, data, size, 0) != (ssize_t)size)) {
        perror(f->path);
        abort();
    }
    return f->path;
}

#endif
