/* The JIT's kernel cache: a private directory of compiled kernel objects.
 *
 * Two defences, each against its own threat. The directory's privacy (created 0700, refused if
 * another user owns it or group/others may write it) keeps anyone else from planting or
 * replacing an entry: only its owner (and root) can write there. The content hash recorded in
 * each entry when it was built catches corruption (a truncated write, flipped bits, an entry
 * copied from another key): such an entry is rebuilt, never loaded. The hash (FNV-1a 64) is not
 * cryptographic and does not need to be: whoever could forge it could already write the
 * directory, and so run code as its owner anyway.
 *
 * An entry k<key>.kso is one header line "sslc-kernels 1 key <key> bytes <n> fnv64 <hash>\n"
 * followed by the n bytes of the shared object. */
#ifndef SSLC_JIT_CACHE_H
#define SSLC_JIT_CACHE_H
#include <stddef.h>
#include <stdint.h>

/* Where the cache is: $SSLC_CACHE_DIR, else $XDG_CACHE_HOME/sslc, else $HOME/.cache/sslc, else
 * the passwd entry's home + /.cache/sslc. Nothing is created. Returns 0, or -1 with one line in
 * err (IR_ERRLEN): no home at all, or a path that does not fit in n bytes (never truncated). */
int jit_cache_where(char *buf, size_t n, char *err);
/* jit_cache_where, then the directory made (missing levels too, mode 0700) and checked private:
 * a directory owned by this user, not writable by group or others. */
int jit_cache_dir(char *buf, size_t n, char *err);

/* The cache key of a translation unit: the compiler command, its flags, what it targets here
 * (cc_describe: compiler version, the CPU features -march=native resolved to) and the source.
 * Exposed so that a test can see the key follow the target description. */
uint64_t jit_cache_key(const char *cc, const char *flags, const char *target, const char *src);

/* the header line of an entry for key holding so[0..n) (at most JIT_ENTRY_HEADER bytes) */
#define JIT_ENTRY_HEADER 96
void jit_entry_header(uint64_t key, const void *so, size_t n, char *hdr);
/* Checks a whole entry file: its header names key and the exact size and content hash of what
 * follows. Returns the offset of the shared object's bytes, or -1 when the entry is not valid. */
long jit_entry_check(uint64_t key, const unsigned char *file, size_t len);

#endif
