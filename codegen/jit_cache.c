#include "jit_cache.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../ir/graph_hash.h"
#include "../ir/ir.h"

int jit_cache_where(char *buf, size_t n, char *err) {
    const char *base, *sub, *from;
    char pwbuf[4096];
    if ((base = getenv("SSLC_CACHE_DIR")) && *base)
        sub = "", from = "SSLC_CACHE_DIR";
    else if ((base = getenv("XDG_CACHE_HOME")) && *base)
        sub = "/sslc", from = "XDG_CACHE_HOME";
    else if ((base = getenv("HOME")) && *base)
        sub = "/.cache/sslc", from = "HOME";
    else {
        /* no shared fallback such as /tmp: any user could plant objects there before us */
        struct passwd pw, *found = NULL;
        if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof pwbuf, &found) || !found || !pw.pw_dir || !*pw.pw_dir) {
            snprintf(err, IR_ERRLEN,
                     "no directory for the kernel cache: HOME is unset and user %ld has no home in the passwd database; "
                     "set SSLC_CACHE_DIR to a private directory",
                     (long)geteuid());
            return -1;
        }
        base = pw.pw_dir, sub = "/.cache/sslc", from = "the passwd home";
    }
    int len = snprintf(buf, n, "%s%s", base, sub);
    if (len < 0 || (size_t)len >= n) {
        snprintf(err, IR_ERRLEN,
                 "the kernel cache directory from %s is too long (%d characters, at most %zu): set SSLC_CACHE_DIR to a "
                 "shorter private directory",
                 from, len, n - 1);
        return -1;
    }
    return 0;
}

int jit_cache_dir(char *buf, size_t n, char *err) {
    if (jit_cache_where(buf, n, err)) return -1;
    /* every missing level 0700, as the XDG base directory spec asks of ~/.cache; existing levels
     * are left as they are */
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            (void)mkdir(buf, 0700);
            *p = '/';
        }
    if (mkdir(buf, 0700) && errno != EEXIST) {
        snprintf(err, IR_ERRLEN, "cannot create the kernel cache directory %.300s: %s; set SSLC_CACHE_DIR to a private directory",
                 buf, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(buf, &st) || !S_ISDIR(st.st_mode)) {
        snprintf(err, IR_ERRLEN, "the kernel cache directory %.300s is not a directory; set SSLC_CACHE_DIR to a private directory",
                 buf);
        return -1;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, IR_ERRLEN,
                 "the kernel cache directory %.300s is owned by user %ld, not by you (%ld): set SSLC_CACHE_DIR to a "
                 "private directory of yours",
                 buf, (long)st.st_uid, (long)geteuid());
        return -1;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(err, IR_ERRLEN,
                 "the kernel cache directory %.300s is writable by group or others (mode %04o): chmod 700 it, or set "
                 "SSLC_CACHE_DIR to a private directory",
                 buf, (unsigned)(st.st_mode & 07777));
        return -1;
    }
    return 0;
}

/* strings with their terminating NUL, so that ("ab", "c") and ("a", "bc") differ */
static uint64_t put(uint64_t h, const char *s) { return fnv64(h, s, strlen(s) + 1); }

uint64_t jit_cache_key(const char *cc, const char *flags, const char *target, const char *src) {
    return put(put(put(put(FNV64_INIT, cc), flags), target), src);
}

void jit_entry_header(uint64_t key, const void *so, size_t n, char *hdr) {
    snprintf(hdr, JIT_ENTRY_HEADER, "sslc-kernels 1 key %016llx bytes %zu fnv64 %016llx\n", (unsigned long long)key, n,
             (unsigned long long)fnv64(FNV64_INIT, so, n));
}

long jit_entry_check(uint64_t key, const unsigned char *file, size_t len) {
    const unsigned char *nl = memchr(file, '\n', len < JIT_ENTRY_HEADER ? len : JIT_ENTRY_HEADER);
    if (!nl) return -1;
    size_t off = (size_t)(nl - file) + 1;
    char want[JIT_ENTRY_HEADER];
    jit_entry_header(key, file + off, len - off, want);
    return strlen(want) == off && !memcmp(want, file, off) ? (long)off : -1;
}
