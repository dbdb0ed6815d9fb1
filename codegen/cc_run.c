#define _GNU_SOURCE /* pipe2, environ */
#include "cc_run.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../ir/ir.h"

const char *cc_command(void) {
    const char *cc = getenv("CC");
    return cc && cc[strspn(cc, " \t\n\v\f\r")] ? cc : "cc"; /* a blank CC is no CC */
}

/* argv: the words of each of words[0..nwords) (split on whitespace), then extra[0..nextra), NULL.
 * One malloc'd block holds the vector and the copied words. */
static char **make_argv(const char *const *words, int nwords, const char *const *extra, int nextra) {
    size_t bytes = 0;
    int n = nextra;
    for (int i = 0; i < nwords; i++) {
        bytes += strlen(words[i]) + 1;
        for (const char *p = words[i]; *p; p++)
            if (!isspace((unsigned char)*p) && (p == words[i] || isspace((unsigned char)p[-1]))) n++;
    }
    char **argv = malloc((size_t)(n + 1) * sizeof *argv + bytes);
    if (!argv) return NULL;
    char *text = (char *)(argv + n + 1);
    int k = 0;
    for (int i = 0; i < nwords; i++) {
        strcpy(text, words[i]);
        char *save = NULL;
        for (char *w = strtok_r(text, " \t\n\v\f\r", &save); w; w = strtok_r(NULL, " \t\n\v\f\r", &save)) argv[k++] = w;
        text += strlen(words[i]) + 1;
    }
    for (int i = 0; i < nextra; i++) argv[k++] = (char *)extra[i];
    argv[k] = NULL;
    return argv;
}

/* Runs argv (stdin /dev/null, stdout and stderr into one pipe) and waits for it. *out: the first
 * cap bytes it wrote, NUL-terminated, malloc'd (the rest is read and dropped so the child never
 * blocks); *status: waitpid's. Returns 0, or -1 with one line in err when it could not start. */
static int spawn_capture(char **argv, size_t cap, char **out, int *status, char *err) {
    *out = NULL;
    char *buf = malloc(cap + 1);
    int fd[2];
    if (!buf || pipe2(fd, O_CLOEXEC)) {
        snprintf(err, IR_ERRLEN, "cannot start the C compiler %.100s: %s", argv[0], buf ? strerror(errno) : "out of memory");
        free(buf);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    if (rc) {
        close(fd[0]);
        free(buf);
        snprintf(err, IR_ERRLEN, "cannot run the C compiler %.100s: %s; set CC to an installed C compiler", argv[0],
                 strerror(rc));
        return -1;
    }
    size_t len = 0;
    char drop[4096];
    for (;;) {
        ssize_t r = len < cap ? read(fd[0], buf + len, cap - len) : read(fd[0], drop, sizeof drop);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (len < cap) len += (size_t)r;
    }
    close(fd[0]);
    buf[len] = 0;
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR) {
            *status = -1;
            break;
        }
    *out = buf;
    return 0;
}

static void describe_status(int status, char *s, size_t n) {
    if (status == -1)
        snprintf(s, n, "lost");
    else if (WIFSIGNALED(status))
        snprintf(s, n, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(s, n, "exit status %d", WEXITSTATUS(status));
}

/* the first 20 non-blank lines of text, each trimmed, joined with " | " into out (n bytes) */
static const char *one_line(const char *text, char *out, size_t n) {
    size_t w = 0;
    int lines = 0;
    for (const char *line = text; *line && lines < 20 && w + 4 < n;) {
        const char *end = line + strcspn(line, "\n"), *next = *end ? end + 1 : end;
        while (line < end && isspace((unsigned char)*line)) line++;
        while (end > line && isspace((unsigned char)end[-1])) end--;
        if (end > line) {
            if (lines++) w += (size_t)snprintf(out + w, n - w, " | ");
            for (; line < end && w + 1 < n; line++) out[w++] = iscntrl((unsigned char)*line) ? ' ' : *line;
        }
        line = next;
    }
    out[w] = 0;
    return w ? out : "no message";
}

int cc_compile(const char *cc, const char *flags, const char *src, const char *out, char *err) {
    const char *words[] = {cc, flags}, *extra[] = {"-o", out, src, "-lm"};
    char **argv = make_argv(words, 2, extra, 4), *msg;
    int status;
    if (!argv) {
        snprintf(err, IR_ERRLEN, "out of memory starting the C compiler");
        return -1;
    }
    int rc = spawn_capture(argv, 8192, &msg, &status, err);
    free(argv);
    if (rc) return -1;
    if (status != 0) {
        char how[48];
        describe_status(status, how, sizeof how);
        char line[IR_ERRLEN];
        snprintf(err, IR_ERRLEN, "the C compiler (%.60s) failed on the generated kernels (%s): %.340s", cc, how,
                 one_line(msg, line, sizeof line));
        rc = -1;
    }
    free(msg);
    return rc;
}

/* one run of cc with the words of `flags` and then args; its output, malloc'd, into *out */
static int query(const char *cc, const char *flags, const char *const *args, int nargs, char **out, char *err) {
    const char *words[] = {cc, flags};
    char **argv = make_argv(words, 2, args, nargs);
    int status;
    if (!argv) {
        snprintf(err, IR_ERRLEN, "out of memory starting the C compiler");
        return -1;
    }
    int rc = spawn_capture(argv, 1 << 20, out, &status, err);
    free(argv);
    if (rc) return -1;
    if (status != 0) {
        char how[48];
        describe_status(status, how, sizeof how);
        char line[IR_ERRLEN];
        snprintf(err, IR_ERRLEN, "the C compiler (%.60s) failed when asked what it targets (%s): %.250s; set CC to a working C compiler",
                 cc, how, one_line(*out, line, sizeof line));
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

static struct {
    pthread_mutex_t mu;
    char *cc, *flags, *desc;
} memo = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, NULL};

static int describe(const char *cc, const char *flags, char **desc, char *err) {
    const char *version[] = {"--version"}, *macros[] = {"-E", "-dM", "-x", "c", "/dev/null"};
    char *v = NULL, *m = NULL;
    if (query(cc, "", version, 1, &v, err) || query(cc, flags, macros, 5, &m, err)) {
        free(v);
        return -1;
    }
    v[strcspn(v, "\n")] = 0;
    size_t n = strlen(v) + strlen(m) + 2;
    if ((*desc = malloc(n))) snprintf(*desc, n, "%s\n%s", v, m);
    free(v);
    free(m);
    if (!*desc) snprintf(err, IR_ERRLEN, "out of memory asking the C compiler what it targets");
    return *desc ? 0 : -1;
}

int cc_describe(const char *cc, const char *flags, char **desc, char *err) {
    *desc = NULL;
    pthread_mutex_lock(&memo.mu);
    int rc = 0;
    if (!memo.desc || strcmp(memo.cc, cc) || strcmp(memo.flags, flags)) {
        char *d, *c = strdup(cc), *f = strdup(flags);
        if (!c || !f) {
            snprintf(err, IR_ERRLEN, "out of memory asking the C compiler what it targets");
            rc = -1;
        } else if (!(rc = describe(cc, flags, &d, err))) {
            free(memo.cc);
            free(memo.flags);
            free(memo.desc);
            memo.cc = c, memo.flags = f, memo.desc = d;
            c = f = NULL;
        }
        free(c);
        free(f);
    }
    if (!rc && !(*desc = strdup(memo.desc))) {
        snprintf(err, IR_ERRLEN, "out of memory asking the C compiler what it targets");
        rc = -1;
    }
    pthread_mutex_unlock(&memo.mu);
    return rc;
}
