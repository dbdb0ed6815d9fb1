/* The JIT kernel cache (issue 15): an entry that is truncated, bit-flipped, another key's or a
 * planted shared object (whose constructor would write a marker) is rebuilt and never loaded; a
 * cache directory owned by another user or writable by others, or a path too long for its
 * buffer, is refused with one line; without SSLC_CACHE_DIR, XDG_CACHE_HOME and HOME the passwd
 * home is used (none: refused), never /tmp; HOME with shell metacharacters or an apostrophe
 * compiles and runs nothing; CC may hold words and its errors come back in one line; the key
 * follows the compiler's target description (the CPU features -march=native resolves to). */
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen/cc_run.h"
#include "codegen/jit.h"
#include "codegen/jit_cache.h"
#include "optest.h"

static char tmpdir[64];

/* k0 doubles and adds one; SRC_B triples (another key) */
static const char SRC_A[] = "void k0(void **args) { float *x = args[0]; x[0] = x[0] * 2.0f + 1.0f; }\n";
static const char SRC_B[] = "void k0(void **args) { float *x = args[0]; x[0] = x[0] * 3.0f; }\n";

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int one_line(const char *err) { return *err && !strchr(err, '\n'); }

/* loads src, runs k0 on 3 and checks the result is want; *cached: whether it came from the cache */
static int load_run(const char *src, float want, int *cached, char *path, size_t n) {
    jit_module m;
    char err[IR_ERRLEN];
    CHECK(jit_c_load_source(src, 1, &m, err) == 0, "load: %s", err);
    float x = 3.0f;
    void *args[] = {&x};
    m.fn[0](args);
    if (cached) *cached = m.cached;
    if (path) snprintf(path, n, "%s", m.path);
    jit_c_unload(&m);
    CHECK(x == want, "k0(3) = %g, expected %g", (double)x, (double)want);
    return 0;
}

static int read_all(const char *path, unsigned char **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc(*len + 1);
    size_t r = fread(*buf, 1, *len, f);
    fclose(f);
    return r == *len ? 0 : -1;
}

static int write_all(const char *path, const unsigned char *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(buf, 1, len, f);
    return fclose(f) || w != len ? -1 : 0;
}

/* the entry of SRC_A replaced by `bad`, then loaded: rebuilt (not from the cache), right result,
 * and the entry valid again afterwards */
static int rebuilt_after(const char *what, const char *entry, const unsigned char *bad, size_t len) {
    CHECK(write_all(entry, bad, len) == 0, "%s: cannot write %s", what, entry);
    int cached;
    if (load_run(SRC_A, 7.0f, &cached, NULL, 0)) return 1;
    CHECK(!cached, "%s: the bad entry was loaded as a cache hit", what);
    if (load_run(SRC_A, 7.0f, &cached, NULL, 0)) return 1;
    CHECK(cached, "%s: the rebuilt entry is not used", what);
    printf("ok   %s entry rebuilt\n", what);
    return 0;
}

static int tamper_cases(void) {
    char cache[128], entry[512], entry_b[512];
    snprintf(cache, sizeof cache, "%s/cache", tmpdir);
    setenv("SSLC_CACHE_DIR", cache, 1);
    int cached;
    if (load_run(SRC_A, 7.0f, &cached, entry, sizeof entry)) return 1;
    CHECK(!cached, "first load came from the cache");
    if (load_run(SRC_A, 7.0f, &cached, NULL, 0)) return 1;
    CHECK(cached, "second load compiled again");
    if (load_run(SRC_B, 9.0f, NULL, entry_b, sizeof entry_b)) return 1;
    CHECK(strcmp(entry, entry_b) != 0, "two sources share the entry %s", entry);
    struct stat st;
    CHECK(stat(cache, &st) == 0 && (st.st_mode & 0777) == 0700, "cache directory mode %o, expected 0700",
          (unsigned)(st.st_mode & 0777));

    unsigned char *good, *other;
    size_t len, olen;
    CHECK(read_all(entry, &good, &len) == 0 && read_all(entry_b, &other, &olen) == 0, "cannot read the entries");
    int fails = rebuilt_after("truncated", entry, good, len / 2);
    good[len * 3 / 4] ^= 0x10;
    fails += rebuilt_after("bit-flipped", entry, good, len);
    good[len * 3 / 4] ^= 0x10;
    fails += rebuilt_after("another key's", entry, other, olen);
    free(good);
    free(other);

    /* a plain shared object planted under the entry's name: its constructor must never run */
    char plant_c[128], plant_so[128], marker[128], cmd[512];
    snprintf(plant_c, sizeof plant_c, "%s/plant.c", tmpdir);
    snprintf(plant_so, sizeof plant_so, "%s/plant.so", tmpdir);
    snprintf(marker, sizeof marker, "%s/PLANTED_RAN", tmpdir);
    FILE *f = fopen(plant_c, "w");
    CHECK(f, "cannot write %s", plant_c);
    fprintf(f,
            "#include <stdio.h>\n"
            "__attribute__((constructor)) static void planted(void) { FILE *f = fopen(\"%s\", \"w\"); if (f) fclose(f); }\n"
            "void k0(void **args) { float *x = args[0]; x[0] = -1.0f; }\n",
            marker);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cc -shared -fPIC -o %s %s", plant_so, plant_c);
    CHECK(system(cmd) == 0, "cannot build the planted object: %s", cmd);
    unsigned char *plant;
    size_t plen;
    CHECK(read_all(plant_so, &plant, &plen) == 0, "cannot read %s", plant_so);
    fails += rebuilt_after("planted", entry, plant, plen);
    free(plant);
    CHECK(!exists(marker), "the planted object's constructor ran (%s exists)", marker);
    printf("ok   the planted object's constructor did not run\n");
    return fails;
}

/* a load that must fail with one line containing `want`, creating nothing at `absent` */
static int refused(const char *what, const char *want, const char *absent) {
    jit_module m;
    char err[IR_ERRLEN] = "";
    CHECK(jit_c_load_source(SRC_A, 1, &m, err) != 0, "%s: accepted (%s)", what, m.path);
    CHECK(one_line(err) && strstr(err, want), "%s: expected one line with '%s', got '%s'", what, want, err);
    CHECK(!absent || !exists(absent), "%s: %s was created", what, absent);
    printf("ok   %s refused: %s\n", what, err);
    return 0;
}

static int directory_cases(void) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/open", tmpdir);
    CHECK(mkdir(dir, 0700) == 0 && chmod(dir, 0777) == 0, "cannot make %s", dir);
    setenv("SSLC_CACHE_DIR", dir, 1);
    int fails = refused("a cache writable by others (0777)", "writable by group or others", NULL);
    chmod(dir, 0770);
    fails += refused("a cache writable by its group (0770)", "writable by group or others", NULL);
    if (geteuid() == 0) {
        CHECK(chmod(dir, 0700) == 0 && chown(dir, 65534, 65534) == 0, "cannot chown %s", dir);
        fails += refused("a cache owned by another user", "owned by user 65534", NULL);
    } else {
        printf("skip a cache owned by another user (needs root)\n");
    }

    /* 600 characters: refused whole, never cut down to another directory */
    char top[128], lng[700];
    snprintf(top, sizeof top, "%s/long", tmpdir);
    int n = snprintf(lng, sizeof lng, "%s/", top);
    while (n < 600) lng[n++] = 'd';
    lng[n] = 0;
    setenv("SSLC_CACHE_DIR", lng, 1);
    fails += refused("a 600-character SSLC_CACHE_DIR", "too long", top);
    return fails;
}

static int home_cases(void) {
    unsetenv("SSLC_CACHE_DIR");
    unsetenv("XDG_CACHE_HOME");
    char home[256], injected[128];
    snprintf(injected, sizeof injected, "%s/INJECTED", tmpdir);
    snprintf(home, sizeof home, "%s/x'; touch %s; echo '", tmpdir, injected);
    setenv("HOME", home, 1);
    char path[512];
    if (load_run(SRC_A, 7.0f, NULL, path, sizeof path)) return 1;
    CHECK(!exists(injected), "HOME with shell metacharacters ran a command (%s exists)", injected);
    CHECK(!strncmp(path, home, strlen(home)), "the entry %s is not under HOME", path);
    printf("ok   HOME with shell metacharacters: compiled, nothing run\n");
    snprintf(home, sizeof home, "%s/o'brien", tmpdir);
    setenv("HOME", home, 1);
    if (load_run(SRC_A, 7.0f, NULL, path, sizeof path)) return 1;
    CHECK(!strncmp(path, home, strlen(home)), "the entry %s is not under HOME", path);
    printf("ok   HOME with an apostrophe\n");
    return 0;
}

/* names in dir (empty when it does not exist), newline-separated */
static void listing(const char *dir, char *out, size_t n) {
    *out = 0;
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(out);
        snprintf(out + l, n - l, "%s\n", e->d_name);
    }
    closedir(d);
}

/* in a child: no SSLC_CACHE_DIR, XDG_CACHE_HOME or HOME; as root also as a user with a home it
 * cannot write (nobody) and a user with no passwd entry; /tmp/sslc-cache gains nothing */
static int child_no_home(void) {
    unsetenv("SSLC_CACHE_DIR");
    unsetenv("XDG_CACHE_HOME");
    unsetenv("HOME");
    char where[512], err[IR_ERRLEN], want[600];
    struct passwd *pw = getpwuid(geteuid());
    CHECK(pw && pw->pw_dir, "no passwd entry for uid %ld", (long)geteuid());
    snprintf(want, sizeof want, "%s/.cache/sslc", pw->pw_dir);
    CHECK(jit_cache_where(where, sizeof where, err) == 0, "no home: %s", err);
    CHECK(!strcmp(where, want), "no home: the cache is %s, expected the passwd home's %s", where, want);
    printf("ok   without SSLC_CACHE_DIR, XDG_CACHE_HOME and HOME: %s\n", where);
    if (geteuid() != 0) {
        printf("skip users without a usable home (needs root)\n");
        return 0;
    }
    /* unique source: an entry for it could come from nowhere else */
    char src[256];
    snprintf(src, sizeof src, "/* %s %ld */\n%s", tmpdir, (long)getpid(), SRC_A);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        jit_module m;
        err[0] = 0;
        int uid = 54321; /* no passwd entry */
        if (setgid(65534) || setuid(uid)) _exit(2);
        int bad = getpwuid((uid_t)uid) || jit_c_load_source(src, 1, &m, err) == 0 || !one_line(err) ||
                  !strstr(err, "set SSLC_CACHE_DIR");
        printf("%-4s a user with no passwd entry refused: %s\n", bad ? "FAIL" : "ok", err);
        fflush(stdout);
        _exit(bad);
    }
    int status;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "a user with no home was not refused with one line naming SSLC_CACHE_DIR");
    return 0;
}

static int no_home_cases(void) {
    char before[8192], after[8192];
    listing("/tmp/sslc-cache", before, sizeof before);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int rc = child_no_home();
        fflush(stdout);
        _exit(rc);
    }
    int status;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the cases without a home failed");
    listing("/tmp/sslc-cache", after, sizeof after);
    CHECK(!strcmp(before, after), "/tmp/sslc-cache changed:\n%s\n->\n%s", before, after);
    printf("ok   nothing created under /tmp/sslc-cache\n");
    return 0;
}

static int compiler_cases(void) {
    char cache[128];
    snprintf(cache, sizeof cache, "%s/cache", tmpdir);
    setenv("SSLC_CACHE_DIR", cache, 1);
    /* CC of several words: each its own argument */
    setenv("CC", "cc -DSSLC_WORD=2", 1);
    static const char word_src[] = "#if SSLC_WORD != 2\n#error CC's words were lost\n#endif\n"
                                   "void k0(void **args) { float *x = args[0]; x[0] = x[0] * SSLC_WORD; }\n";
    int fails = load_run(word_src, 6.0f, NULL, NULL, 0);
    if (!fails) printf("ok   CC with words\n");
    setenv("CC", " \t", 1); /* blank: the default cc, not the first flag as the compiler */
    fails += load_run(SRC_A, 7.0f, NULL, NULL, 0);
    if (!fails) printf("ok   blank CC\n");
    unsetenv("CC");
    /* a compile error: the compiler's own message, in one line */
    jit_module m;
    char err[IR_ERRLEN] = "";
    CHECK(jit_c_load_source("void k0(void **args) { syntax error here }\n", 1, &m, err) != 0, "a syntax error compiled");
    CHECK(one_line(err) && strstr(err, "failed on the generated kernels") && strstr(err, "error"),
          "compile error: expected one line with the compiler's message, got '%s'", err);
    printf("ok   compile error in one line: %s\n", err);
    setenv("CC", "/nonexistent/cc", 1);
    fails += refused("a missing compiler", "cannot run the C compiler /nonexistent/cc", NULL);
    unsetenv("CC");
    return fails;
}

static int key_cases(void) {
    const char *flags = "-O2 -march=native";
    char *native;
    char err[IR_ERRLEN];
    CHECK(cc_describe("cc", flags, &native, err) == 0, "%s", err);
    CHECK(strstr(native, "__VERSION__"), "the target description lacks the compiler version:\n%.300s", native);
    /* the same machine with one more CPU feature (the cache shared with a newer CPU) */
    size_t n = strlen(native) + 64;
    char *more = malloc(n);
    snprintf(more, n, "%s#define __AVX512F__ 1\n", native);
    uint64_t k1 = jit_cache_key("cc", flags, native, SRC_A), k2 = jit_cache_key("cc", flags, more, SRC_A);
    CHECK(k1 == jit_cache_key("cc", flags, native, SRC_A), "the key is not a function of its inputs");
    CHECK(k1 != k2, "the key ignores the CPU features");
    free(more);
    free(native);
    printf("ok   the key follows the CPU features\n");
#if defined(__x86_64__)
    /* and the description follows what -march selects */
    char *base, *v3;
    CHECK(cc_describe("cc", "-march=x86-64", &base, err) == 0 && cc_describe("cc", "-march=x86-64-v3", &v3, err) == 0, "%s",
          err);
    int differ = strcmp(base, v3) != 0 && strstr(v3, "__AVX2__") && !strstr(base, "__AVX2__");
    free(base);
    free(v3);
    CHECK(differ, "-march=x86-64 and -march=x86-64-v3 describe the same target");
    printf("ok   the target description follows -march (x86-64 vs x86-64-v3)\n");
#endif
    return 0;
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sslc_jitcache_XXXXXX");
    CHECK(mkdtemp(tmpdir), "mkdtemp");
    /* first, before any kernel has started threads: these fork */
    int fails = no_home_cases();
    fails += key_cases();
    fails += tamper_cases();
    fails += directory_cases();
    fails += compiler_cases();
    fails += home_cases();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    printf(fails ? "FAILED\n" : "all jit cache tests passed\n");
    return fails ? 1 : 0;
}
