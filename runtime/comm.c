/* The MPI and single-rank communicators. MPI is initialized only when mpirun started the
 * process, so a plain run needs no MPI runtime at all. Errors come back as return codes
 * (MPI_ERRORS_RETURN) and are reported by the caller, which then ends the job (comm_abort). */
#include "comm.h"

#include <errno.h>
#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int comm_launched(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

/* DT_U8 moves raw bytes (broadcasting tensors of any dtype) */
static size_t elt(ir_dtype dt) { return dt == DT_F64 ? 8 : dt == DT_U8 ? 1 : 4; }
static MPI_Datatype mpi_type(ir_dtype dt) { return dt == DT_F64 ? MPI_DOUBLE : dt == DT_U8 ? MPI_BYTE : MPI_FLOAT; }

static int mpi_fail(int rc, const char *what, char *err) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    snprintf(err, IR_ERRLEN, "MPI %s failed: %s (another rank may have ended)", what, msg);
    return -1;
}

static int checked(int rc, const char *what, char *err) { return rc == MPI_SUCCESS ? 0 : mpi_fail(rc, what, err); }

/* The communication timeout. A rank that hangs without dying (stopped, stuck in a step) would
 * leave the others waiting in their next collective forever: mpirun only notices ranks that exit.
 * A watchdog thread sees how long this rank has been inside one collective and, past the
 * timeout, reports it and exits the process, which makes mpirun end the whole job. It exits
 * rather than calling MPI_Abort because MPI is initialized single-threaded; the collectives
 * themselves stay the blocking ones, so the sums are the same as without it. */
struct comm_watch {
    ir_comm *c;
    double timeout; /* seconds; 0: no watchdog */
    _Atomic long long entered_ms; /* when this rank entered its current collective; 0: in none */
    _Atomic(const char *) what;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, running;
    /* the nonblocking all-reduces started and not yet waited for, in start order; the buffer
     * names one (the Wait op holds the Start's output, the same storage) */
    struct pending_reduce {
        void *buf;
        MPI_Request req; /* MPI_REQUEST_NULL once a progress call saw it complete */
    } *pend;
    int npend, cap;
};

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *watch_loop(void *arg) {
    struct comm_watch *w = arg;
    long long tick = (long long)(w->timeout * 1000 / 4);
    if (tick > 1000) tick = 1000;
    if (tick < 10) tick = 10;
    /* the wait is counted in ticks this thread saw, not from the clock: a rank that was itself
     * stopped (and is resumed while mpirun ends the job) must not blame the others */
    long long seen_t0 = 0, waited = 0, last = now_ms();
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += tick / 1000, until.tv_nsec += (tick % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&w->cv, &w->mu, &until);
        long long t0 = atomic_load(&w->entered_ms), now = now_ms(), gap = now - last;
        last = now;
        if (t0 != seen_t0) seen_t0 = t0, waited = t0 && now - t0 < tick ? now - t0 : t0 ? tick : 0;
        else if (t0) waited += gap < 2 * tick ? gap : tick;
        if (w->stop || !t0 || waited < (long long)(w->timeout * 1000)) continue;
        const ir_comm *c = w->c;
        char others[64];
        if (c->size == 2)
            snprintf(others, sizeof others, "rank %d", 1 - c->rank);
        else
            snprintf(others, sizeof others, "one of the other %d ranks", c->size - 1);
        fprintf(stderr,
                "sslc: rank %d: %s waited %.0f s for %s, which hangs (stopped or stuck in a step): ending the job "
                "(the last checkpoint stays; SSLC_COMM_TIMEOUT=SEC sets the timeout)\n",
                c->rank, atomic_load(&w->what), w->timeout, others);
        fflush(stderr);
        _exit(3);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* SSLC_COMM_TIMEOUT: seconds, default 600 (an evaluation on rank 0 while the others wait must
 * fit); 0 turns the watchdog off */
static int read_timeout(double *t, char *err) {
    *t = 600;
    const char *s = getenv("SSLC_COMM_TIMEOUT");
    if (!s) return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || v > 1e7) {
        snprintf(err, IR_ERRLEN, "SSLC_COMM_TIMEOUT=%.40s is not a number of seconds: set it to e.g. 600 (0: no timeout)", s);
        return -1;
    }
    *t = v;
    return 0;
}

static int watch_start(struct comm_watch *w, char *err) {
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (w->timeout <= 0 || w->c->size < 2) return 0;
    if (pthread_create(&w->thread, NULL, watch_loop, w)) {
        snprintf(err, IR_ERRLEN, "cannot start the communication watchdog thread (SSLC_COMM_TIMEOUT=0 runs without)");
        return -1;
    }
    w->running = 1;
    return 0;
}

static void watch_stop(struct comm_watch *w) {
    if (w->running) {
        pthread_mutex_lock(&w->mu);
        w->stop = 1;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

static void enter(struct comm_watch *w, const char *what) {
    atomic_store(&w->what, what);
    atomic_store(&w->entered_ms, now_ms());
}
static int leave(struct comm_watch *w, int rc, const char *what, char *err) {
    atomic_store(&w->entered_ms, 0);
    return checked(rc, what, err);
}

static ir_comm *as_comm(void *self) { return ((struct comm_watch *)self)->c; }

static int mpi_allreduce(void *self, void *buf, int64_t n, ir_dtype dt, char *err) {
    ir_comm *c = as_comm(self);
    c->bytes_sent += (uint64_t)comm_ring_bytes(OP_AllReduce, (double)n * (double)elt(dt), c->size);
    enter(self, "AllReduce");
    return leave(self, MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, mpi_type(dt), MPI_SUM, MPI_COMM_WORLD), "AllReduce", err);
}

static int mpi_allgather(void *self, const void *src, void *dst, int64_t n, ir_dtype dt, char *err) {
    ir_comm *c = as_comm(self);
    c->bytes_sent += (uint64_t)comm_ring_bytes(OP_AllGather, (double)n * (double)elt(dt), c->size);
    enter(self, "AllGather");
    return leave(self, MPI_Allgather(src, (int)n, mpi_type(dt), dst, (int)n, mpi_type(dt), MPI_COMM_WORLD), "AllGather", err);
}

static int mpi_reduce_scatter(void *self, const void *src, void *dst, int64_t n, ir_dtype dt, char *err) {
    ir_comm *c = as_comm(self);
    c->bytes_sent += (uint64_t)comm_ring_bytes(OP_ReduceScatter, (double)n * c->size * (double)elt(dt), c->size);
    enter(self, "ReduceScatter");
    return leave(self, MPI_Reduce_scatter_block(src, dst, (int)n, mpi_type(dt), MPI_SUM, MPI_COMM_WORLD), "ReduceScatter", err);
}

static int mpi_broadcast(void *self, void *buf, int64_t n, ir_dtype dt, int root, char *err) {
    ir_comm *c = as_comm(self);
    c->bytes_sent += (uint64_t)comm_ring_bytes(OP_Broadcast, (double)n * (double)elt(dt), c->size);
    enter(self, "Broadcast");
    return leave(self, MPI_Bcast(buf, (int)n, mpi_type(dt), root, MPI_COMM_WORLD), "Broadcast", err);
}

static int mpi_barrier(void *self, char *err) {
    enter(self, "Barrier");
    return leave(self, MPI_Barrier(MPI_COMM_WORLD), "Barrier", err);
}

/* MPI_Iallreduce, not MPI_Allreduce on a communication thread: MPI stays single-threaded
 * (MPI_THREAD_SINGLE, as Debian's OpenMPI gives by default; a comm thread would need
 * MPI_THREAD_MULTIPLE or every MPI call funnelled through it, the forward pass's AllGathers
 * included), and the progress calls between steps (mpi_progress) are what moves the data */
static int mpi_allreduce_start(void *self, void *buf, int64_t n, ir_dtype dt, char *err) {
    struct comm_watch *w = self;
    ir_comm *c = w->c;
    if (w->npend == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        struct pending_reduce *p = realloc(w->pend, (size_t)cap * sizeof *p);
        if (!p) {
            snprintf(err, IR_ERRLEN, "out of memory starting an AllReduce");
            return -1;
        }
        w->pend = p, w->cap = cap;
    }
    c->bytes_sent += (uint64_t)comm_ring_bytes(OP_AllReduce, (double)n * (double)elt(dt), c->size);
    struct pending_reduce *p = &w->pend[w->npend];
    p->buf = buf;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, mpi_type(dt), MPI_SUM, MPI_COMM_WORLD, &p->req);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "Iallreduce", err);
    w->npend++;
    c->pending = w->npend;
    return 0;
}

static int mpi_allreduce_wait(void *self, void *buf, char *err) {
    struct comm_watch *w = self;
    int i = 0;
    while (i < w->npend && w->pend[i].buf != buf) i++;
    if (i == w->npend) {
        snprintf(err, IR_ERRLEN, "AllReduceWait on a buffer no AllReduceStart is pending for (a plan out of order)");
        return -1;
    }
    int rc = MPI_SUCCESS;
    if (w->pend[i].req != MPI_REQUEST_NULL) {
        enter(w, "AllReduce (waiting for a gradient bucket)");
        rc = leave(w, MPI_Wait(&w->pend[i].req, MPI_STATUS_IGNORE), "Wait (AllReduce)", err);
    }
    memmove(&w->pend[i], &w->pend[i + 1], (size_t)(w->npend - i - 1) * sizeof *w->pend);
    w->c->pending = --w->npend;
    return rc;
}

/* one MPI_Test per pending request: OpenMPI's nonblocking collectives (libnbc) advance their
 * rounds only inside MPI calls, so without these the data moves at the wait */
static int mpi_progress(void *self, char *err) {
    struct comm_watch *w = self;
    for (int i = 0; i < w->npend; i++) {
        if (w->pend[i].req == MPI_REQUEST_NULL) continue;
        int done = 0, rc = MPI_Test(&w->pend[i].req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "Test (AllReduce)", err);
    }
    return 0;
}

static const ir_comm_ops mpi_ops = {"mpi",          mpi_allreduce,       mpi_allgather,     mpi_reduce_scatter,
                                    mpi_broadcast,  mpi_barrier,         mpi_allreduce_start, mpi_allreduce_wait,
                                    mpi_progress};

/* one rank: every collective is a copy */
static int self_allreduce(void *self, void *buf, int64_t n, ir_dtype dt, char *err) {
    (void)self, (void)buf, (void)n, (void)dt, (void)err;
    return 0;
}
static int self_copy(void *self, const void *src, void *dst, int64_t n, ir_dtype dt, char *err) {
    (void)self, (void)err;
    if (src != dst) memmove(dst, src, (size_t)n * elt(dt));
    return 0;
}
static int self_broadcast(void *self, void *buf, int64_t n, ir_dtype dt, int root, char *err) {
    (void)self, (void)buf, (void)n, (void)dt;
    if (root == 0) return 0;
    snprintf(err, IR_ERRLEN, "Broadcast from rank %d in a job of one rank", root);
    return -1;
}
static int self_barrier(void *self, char *err) {
    (void)self, (void)err;
    return 0;
}

/* no nonblocking functions: one rank has nothing in flight (ir/comm.h's blocking fallback) */
static const ir_comm_ops self_ops = {"self",         self_allreduce, self_copy, self_copy, self_broadcast,
                                     self_barrier,   NULL,           NULL,      NULL};

int comm_open(ir_comm *c, char *err) {
    memset(c, 0, sizeof *c);
    c->self = c;
    if (!comm_launched()) {
        c->ops = &self_ops;
        c->size = 1;
        return 0;
    }
    double timeout;
    if (read_timeout(&timeout, err)) return -1;
    struct comm_watch *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, IR_ERRLEN, "out of memory opening the communicator");
        return -1;
    }
    int rc = MPI_Init(NULL, NULL);
    if (rc != MPI_SUCCESS) {
        free(w);
        return mpi_fail(rc, "Init", err);
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    w->c = c, w->timeout = timeout;
    c->self = w;
    c->ops = &mpi_ops;
    if (watch_start(w, err)) {
        comm_close(c);
        return -1;
    }
    return 0;
}

void comm_close(ir_comm *c) {
    if (c->ops == &mpi_ops) {
        struct comm_watch *w = c->self;
        watch_stop(w);
        /* a step that failed between a Start and its Wait leaves requests pending: they are not
         * waited for (the other ranks may be gone; MPI forbids freeing them), the job ends */
        free(w->pend);
        free(w);
        c->self = c;
        MPI_Finalize();
    }
    c->ops = NULL;
}

void comm_abort(ir_comm *c, int code) {
    if (c->ops == &mpi_ops && c->size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

double comm_ring_bytes(int op, double bytes, int ranks) {
    if (ranks < 2) return 0;
    double f = (double)(ranks - 1) / ranks;
    switch (op) {
    case OP_AllReduce:
    case OP_AllReduceStart: return 2 * f * bytes; /* its AllReduceWait sends nothing more */
    case OP_AllGather: return (ranks - 1) * bytes;
    case OP_ReduceScatter:
    case OP_Broadcast:
    case OP_Reduce: return f * bytes;
    default: return 0;
    }
}
