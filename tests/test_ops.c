/* Enumerates the op table: every op must have a forward test and a finite-difference gradient
 * test (ops created only by gradient rules must instead appear in some gradient check). */
#include <string.h>

#include "optest.h"

#define FAMILIES(X) X(elementwise) X(reduce) X(shape) X(linalg) X(softmax) X(conv) X(pool) X(batchnorm) X(state) X(compare) X(norm) X(queue) X(index) X(augment) X(collective)
#define DECL(f) extern const op_test optests_##f[] __attribute__((weak));
FAMILIES(DECL)
#define REF(f) optests_##f,
static const op_test *const families[] = {FAMILIES(REF)};
#define NFAM (sizeof families / sizeof families[0])

static const op_test *find_test(const char *op) {
    for (size_t f = 0; f < NFAM; f++)
        for (const op_test *t = families[f]; t && t->op; t++)
            if (strcmp(t->op, op) == 0) return t;
    return NULL;
}

int main(int argc, char **argv) {
    const char *only = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0;
    for (size_t f = 0; f < NFAM; f++)
        for (const op_test *t = families[f]; t && t->op; t++) {
            if (only && strcmp(only, t->op)) continue;
            if (ir_op_find(t->op) < 0) {
                fprintf(stderr, "FAIL test for unknown op %s\n", t->op);
                failed++;
                continue;
            }
            if (t->fwd) {
                int r = t->fwd();
                printf("%s forward  %s\n", r ? "FAIL" : "ok  ", t->op);
                r ? failed++ : passed++;
            }
            if (t->grad) {
                int r = t->grad();
                printf("%s gradient %s\n", r ? "FAIL" : "ok  ", t->op);
                r ? failed++ : passed++;
            }
        }
    if (!only) {
        for (int op = 0; op < OP__COUNT; op++) {
            const ir_opdef *d = ir_optable[op];
            const op_test *t = find_test(d->name);
            int ok = 1;
            if (!t || !t->fwd) {
                fprintf(stderr, "FAIL op %s has no forward test\n", d->name);
                ok = 0;
            }
            if (d->flags & OPF_GRAD_ONLY) {
                if (!optest_ops_seen[op]) {
                    fprintf(stderr, "FAIL op %s is gradient-only but no gradient check exercised it\n", d->name);
                    ok = 0;
                }
            } else if (!(d->flags & (OPF_NO_GRAD | OPF_STOP)) && (!t || !t->grad)) {
                fprintf(stderr, "FAIL op %s has no finite-difference gradient test\n", d->name);
                ok = 0;
            }
            ok ? passed++ : failed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
