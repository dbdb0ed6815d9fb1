/* Small file helpers shared by the plan and checkpoint (safetensors) writers and readers. */
#ifndef SSLC_FILEIO_H
#define SSLC_FILEIO_H
#include <stddef.h>

/* Writes the concatenation of parts[0..nparts) to `path` atomically: a temporary file in the same
 * directory, fsync, rename over `path`, fsync of the directory. Readers see the old file or the
 * new one, never a torn one. Returns 0, or -1 with one line in err (IR_ERRLEN bytes). */
int sslc_write_atomic(const char *path, const void *const *parts, const size_t *lens, int nparts, char *err);

/* Async-signal-safe: removes the temporary file of an sslc_write_atomic in progress, if any, for a
 * signal handler that is about to _exit (the published file stays as it was). */
void sslc_write_atomic_abandon(void);

/* Opens an input file for reading, refusing anything but a regular file before any read can block:
 * open() of a FIFO with no writer waits forever, so the open is O_NONBLOCK and the fstat check
 * comes before O_NONBLOCK is cleared. Every reader of user input opens through this. Returns the
 * descriptor (O_CLOEXEC), or -1 with one line in err ("PATH is not a regular file", ...). */
int sslc_open_input(const char *path, char *err);

/* path names a directory (following links) */
int sslc_is_dir(const char *path);

/* Reads a whole regular file of at most `max` bytes into a malloc'd buffer (*buf, *len; the
 * buffer has one extra NUL byte). Returns 0, or -1 with one line in err. */
int sslc_read_file(const char *path, size_t max, unsigned char **buf, size_t *len, char *err);

#endif
