/* EXPECT(cond): a check that names the failed condition and goes on, for tests that report
 * every failing case of a table rather than stop at the first (optest.h's CHECK returns). The
 * test's main returns expect_fails != 0. */
#ifndef SSLC_TEST_EXPECT_H
#define SSLC_TEST_EXPECT_H
#include <stdio.h>

static int expect_fails;
#define EXPECT(c)                                                                                                      \
    do {                                                                                                               \
        if (!(c)) {                                                                                                    \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c);                                                   \
            expect_fails++;                                                                                            \
        }                                                                                                              \
    } while (0)

#endif
