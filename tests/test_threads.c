/* The cpu backend's thread choice (runtime/threads.h): who decides, that the count reaches
 * OpenMP and OpenBLAS, and the load rule. Not a timing test. */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "../ir/ir.h"
#include "expect.h"
#include "../runtime/threads.h"


int main(void) {
    /* the load rule: a CPU at least half used by others is taken; never below 1 */
    EXPECT(threads_for_load(2, 0.0) == 2);
    EXPECT(threads_for_load(2, 0.3) == 2);
    EXPECT(threads_for_load(2, 1.0) == 1);
    EXPECT(threads_for_load(2, 2.0) == 1);
    EXPECT(threads_for_load(8, 2.6) == 5);
    EXPECT(threads_for_load(1, 1.0) == 1);

    char err[IR_ERRLEN], line[256];
    thread_choice c;
    /* SSLC_THREADS wins over OMP_NUM_THREADS, and is applied to OpenMP and OpenBLAS */
    EXPECT(threads_choose("1", "2", &c, err) == 0);
    EXPECT(c.threads == 1 && !strcmp(c.source, "SSLC_THREADS") && c.busy_cores < 0);
    threads_apply(&c);
    EXPECT(omp_get_max_threads() == 1);
    EXPECT(openblas_get_num_threads() == 1);
    int team = 0;
#pragma omp parallel
    {
#pragma omp single
        team = omp_get_num_threads();
    }
    EXPECT(team == 1);
    EXPECT(threads_choose("2", NULL, &c, err) == 0);
    threads_apply(&c);
    EXPECT(omp_get_max_threads() == 2 && openblas_get_num_threads() == 2);
    threads_describe(&c, line, sizeof line);
    EXPECT(strstr(line, "threads: 2 of ") == line && strstr(line, "CPUs (SSLC_THREADS)"));

    /* OMP_NUM_THREADS alone: the user's, left to OpenMP (first level of a nested list) */
    EXPECT(threads_choose(NULL, "3,1", &c, err) == 0);
    EXPECT(c.threads == 3 && !strcmp(c.source, "OMP_NUM_THREADS"));

    /* auto (unset, or SSLC_THREADS=auto even beside OMP_NUM_THREADS): from the load */
    EXPECT(threads_choose(NULL, NULL, &c, err) == 0);
    EXPECT(!strcmp(c.source, "auto") && c.busy_cores >= 0 && c.threads >= 1 && c.threads <= c.available);
    EXPECT(c.threads == threads_for_load(c.available, c.busy_cores));
    threads_apply(&c);
    EXPECT(omp_get_max_threads() == c.threads && openblas_get_num_threads() == c.threads);
    threads_describe(&c, line, sizeof line);
    EXPECT(strstr(line, "auto: ") && strstr(line, "SSLC_THREADS=N"));
    EXPECT(threads_choose("auto", "2", &c, err) == 0 && !strcmp(c.source, "auto"));

    /* bad values: one line naming the variable and the fix */
    const char *bad[] = {"0", "-1", "two", "", "2x"};
    for (int i = 0; i < 5; i++) {
        err[0] = 0;
        EXPECT(threads_choose(bad[i], NULL, &c, err) == -1);
        EXPECT(strstr(err, "SSLC_THREADS=") && strstr(err, "or auto") && !strchr(err, '\n'));
    }
    EXPECT(threads_choose(NULL, "lots", &c, err) == -1 && strstr(err, "OMP_NUM_THREADS='lots'"));
    if (expect_fails) return 1;
    printf("test_threads: ok\n");
    return 0;
}
