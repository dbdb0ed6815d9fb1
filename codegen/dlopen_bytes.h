/* dlopen of a shared object held in memory, so that what is loaded is exactly the bytes the
 * caller verified: a file checked and then opened by name could be replaced in between. */
#ifndef SSLC_DLOPEN_BYTES_H
#define SSLC_DLOPEN_BYTES_H
#include <stddef.h>

/* Copies so[0..n) into an anonymous memory file (memfd_create) and dlopens it through
 * /proc/self/fd; where that is unavailable (no memfd, no /proc, memory files mounted noexec),
 * into a fresh file of mode 0600 in private_dir (a directory only this user can write),
 * dlopened and unlinked at once. Returns the handle, or NULL with one line in err (IR_ERRLEN). */
void *dlopen_bytes(const void *so, size_t n, const char *private_dir, char *err);

#endif
