/* How many threads the cpu backend computes with (OpenMP: the JIT kernels and oneDNN; OpenBLAS).
 *
 * With static work splitting every parallel region waits for its slowest thread, so a thread that
 * shares a core with another busy process holds the whole step back: on 2 cores beside one busy
 * process 2 threads run slower than 1. Unless the user chose (SSLC_THREADS, or OpenMP's own
 * OMP_NUM_THREADS), the count is chosen once at start from the load: the CPUs this process may
 * use, less those that other processes keep busy (sampled over THREADS_SAMPLE_MS). */
#ifndef SSLC_THREADS_H
#define SSLC_THREADS_H

#define THREADS_SAMPLE_MS 60

typedef struct {
    int threads;       /* what the computation uses */
    int available;     /* CPUs in this process's affinity mask */
    double busy_cores; /* auto: CPUs' worth of time others used during the sample; else -1 */
    int load_unknown;  /* auto without /proc/stat: every CPU, and the line says so */
    const char *source; /* "SSLC_THREADS", "OMP_NUM_THREADS" or "auto" */
} thread_choice;

/* threads for `available` CPUs of which `busy_cores` are kept busy by others: at least 1 */
int threads_for_load(int available, double busy_cores);

/* The choice from the values of SSLC_THREADS and OMP_NUM_THREADS (NULL: unset). SSLC_THREADS is a
 * count >= 1 or "auto"; it wins over OMP_NUM_THREADS, which OpenMP and OpenBLAS already read
 * themselves. auto samples the load (THREADS_SAMPLE_MS). 0, or -1 with one line in err. */
int threads_choose(const char *sslc_threads, const char *omp_num_threads, thread_choice *c, char *err);

/* Sets the calling thread's OpenMP thread count and OpenBLAS's (nothing for OMP_NUM_THREADS:
 * they read it at start). Call it from the thread that runs the engine. */
void threads_apply(const thread_choice *c);

/* one line for the log, e.g. "threads: 1 of 2 CPUs (auto: 1.0 busy with other processes; ...)" */
void threads_describe(const thread_choice *c, char *buf, int len);

/* choose (from SSLC_THREADS, OMP_NUM_THREADS, the load), apply, and describe in `line` for the
 * caller to print: what a command does once before it starts a cpu engine. 0, or -1 with err. */
int threads_setup(char *line, int len, char *err);

#endif
