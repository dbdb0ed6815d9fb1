/* The stand-in's streams, events and graphs. The host is synchronous: an operation runs when it
 * is submitted, unless its stream captures; then it is recorded, and cuStreamEndCapture hands
 * the recording over as a graph that cuGraphLaunch replays in order. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"

typedef struct {
    const char *call;
    fk_fn check, run;
    void *payload;
    size_t bytes;
} fk_op;

typedef struct {
    fk_op *ops;
    int n, cap;
} fk_oplist;

struct CUstream_st {
    int magic;
    int capturing, invalidated;
    pthread_t owner; /* the capturing thread */
    fk_oplist rec;
};
struct CUevent_st {
    int magic;
};
struct CUgraph_st {
    int magic;
    fk_oplist ops;
};
struct CUgraphExec_st {
    int magic;
    fk_oplist ops;
};
enum { STREAM_MAGIC = 0x57e4a3, EVENT_MAGIC = 0xe7e47, GRAPH_MAGIC = 0x94a9f, EXEC_MAGIC = 0xe8ec };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int ncapturing; /* streams capturing now */

static void oplist_free(fk_oplist *l) {
    for (int i = 0; i < l->n; i++) free(l->ops[i].payload);
    free(l->ops);
    memset(l, 0, sizeof *l);
}

static int oplist_add(fk_oplist *l, const fk_op *op) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        fk_op *n = realloc(l->ops, (size_t)cap * sizeof *n);
        if (!n) return -1;
        l->ops = n, l->cap = cap;
    }
    fk_op o = *op;
    o.payload = malloc(op->bytes ? op->bytes : 1);
    if (!o.payload) return -1;
    memcpy(o.payload, op->payload, op->bytes);
    l->ops[l->n++] = o;
    return 0;
}

static int oplist_copy(fk_oplist *dst, const fk_oplist *src) {
    memset(dst, 0, sizeof *dst);
    for (int i = 0; i < src->n; i++)
        if (oplist_add(dst, &src->ops[i])) {
            oplist_free(dst);
            return -1;
        }
    return 0;
}

int fk_stream_ok(CUstream s) { return !s || s->magic == STREAM_MAGIC; }
int fk_capturing(CUstream s) { return s && s->magic == STREAM_MAGIC && s->capturing; }

int fk_any_capture(void) {
    pthread_mutex_lock(&lock);
    int n = ncapturing;
    pthread_mutex_unlock(&lock);
    return n > 0;
}

/* streams that capture, to invalidate them */
static CUstream *live_streams;
static int nlive, cap_live;

int fk_refuse_in_capture(const char *call, const char *why) {
    pthread_mutex_lock(&lock);
    int n = ncapturing;
    if (n)
        for (int i = 0; i < nlive; i++)
            if (live_streams[i]->capturing) live_streams[i]->invalidated = 1;
    pthread_mutex_unlock(&lock);
    if (!n) return 0;
    fk_say(call, "%s (the stream capture is invalidated)", why ? why : "not permitted while a stream is capturing");
    return FK_CAPTURE_UNSUPPORTED;
}

int fk_submit(CUstream s, const char *call, fk_fn check, fk_fn run, const void *payload, size_t bytes) {
    int r = check ? check(payload) : 0;
    if (r) return r;
    if (!fk_capturing(s)) return run(payload);
    if (s->invalidated) {
        fk_say(call, "the stream's capture was invalidated by an earlier error");
        return FK_CAPTURE_INVALIDATED;
    }
    fk_op op = {call, check, run, (void *)payload, bytes};
    if (oplist_add(&s->rec, &op)) {
        fk_say(call, "out of host memory recording the operation");
        return FK_OUT_OF_MEMORY;
    }
    return 0;
}

/* ---- streams ---- */

FK_API CUresult cuStreamCreate(CUstream *s, unsigned flags) {
    int r = fk_need_context("cuStreamCreate");
    if (r) return r;
    if (!s || flags > CU_STREAM_NON_BLOCKING) return FK_INVALID_VALUE;
    CUstream n = calloc(1, sizeof *n);
    if (!n) return FK_OUT_OF_MEMORY;
    n->magic = STREAM_MAGIC;
    pthread_mutex_lock(&lock);
    if (nlive == cap_live) {
        int cap = cap_live ? 2 * cap_live : 8;
        CUstream *l = realloc(live_streams, (size_t)cap * sizeof *l);
        if (!l) {
            pthread_mutex_unlock(&lock);
            free(n);
            return FK_OUT_OF_MEMORY;
        }
        live_streams = l, cap_live = cap;
    }
    live_streams[nlive++] = n;
    pthread_mutex_unlock(&lock);
    *s = n;
    return 0;
}

FK_API CUresult cuStreamDestroy_v2(CUstream s) {
    if (!s || s->magic != STREAM_MAGIC) {
        fk_say("cuStreamDestroy_v2", "not a stream");
        return FK_INVALID_HANDLE;
    }
    pthread_mutex_lock(&lock);
    if (s->capturing) ncapturing--;
    for (int i = 0; i < nlive; i++)
        if (live_streams[i] == s) live_streams[i] = live_streams[--nlive];
    if (!nlive) { /* the last stream: the list goes too (no leak once the library is unloaded) */
        free(live_streams);
        live_streams = NULL, cap_live = 0;
    }
    pthread_mutex_unlock(&lock);
    if (s->capturing) fk_say("cuStreamDestroy_v2", "the stream was still capturing (its capture is dropped)");
    oplist_free(&s->rec);
    s->magic = 0;
    free(s);
    return 0;
}

FK_API CUresult cuStreamSynchronize(CUstream s) {
    int r = fk_need_context("cuStreamSynchronize");
    if (r) return r;
    if (!fk_stream_ok(s)) {
        fk_say("cuStreamSynchronize", "not a stream");
        return FK_INVALID_HANDLE;
    }
    return fk_refuse_in_capture("cuStreamSynchronize", NULL);
}

FK_API CUresult cuStreamBeginCapture_v2(CUstream s, int mode) {
    int r = fk_need_context("cuStreamBeginCapture_v2");
    if (r) return r;
    if (!s || s->magic != STREAM_MAGIC) {
        fk_say("cuStreamBeginCapture_v2", "%s", s ? "not a stream" : "the NULL stream cannot capture");
        return s ? FK_INVALID_HANDLE : FK_CAPTURE_UNSUPPORTED;
    }
    if (mode < 0 || mode > 2) {
        fk_say("cuStreamBeginCapture_v2", "unknown capture mode %d", mode);
        return FK_INVALID_VALUE;
    }
    if (s->capturing) {
        fk_say("cuStreamBeginCapture_v2", "the stream is already capturing");
        return FK_INVALID_VALUE;
    }
    pthread_mutex_lock(&lock);
    s->capturing = 1, s->invalidated = 0, s->owner = pthread_self();
    ncapturing++;
    pthread_mutex_unlock(&lock);
    return 0;
}

FK_API CUresult cuStreamEndCapture(CUstream s, CUgraph *g) {
    if (!s || s->magic != STREAM_MAGIC || !g) return FK_INVALID_VALUE;
    if (!s->capturing) {
        fk_say("cuStreamEndCapture", "the stream is not capturing");
        return FK_CAPTURE_UNMATCHED;
    }
    if (!pthread_equal(s->owner, pthread_self())) {
        fk_say("cuStreamEndCapture", "the capture began on another thread");
        return FK_CAPTURE_WRONG_THREAD;
    }
    pthread_mutex_lock(&lock);
    s->capturing = 0;
    ncapturing--;
    pthread_mutex_unlock(&lock);
    *g = NULL;
    if (s->invalidated) {
        oplist_free(&s->rec);
        fk_say("cuStreamEndCapture", "the capture was invalidated by an operation not permitted during capture");
        return FK_CAPTURE_INVALIDATED;
    }
    CUgraph n = calloc(1, sizeof *n);
    if (!n) return FK_OUT_OF_MEMORY;
    n->magic = GRAPH_MAGIC;
    n->ops = s->rec; /* handed over */
    memset(&s->rec, 0, sizeof s->rec);
    *g = n;
    return 0;
}

/* ---- events: no-ops (the host is synchronous) ---- */

FK_API CUresult cuEventCreate(CUevent *e, unsigned flags) {
    int r = fk_need_context("cuEventCreate");
    if (r) return r;
    if (!e || (flags & ~3u)) return FK_INVALID_VALUE;
    CUevent n = calloc(1, sizeof *n);
    if (!n) return FK_OUT_OF_MEMORY;
    n->magic = EVENT_MAGIC;
    *e = n;
    return 0;
}
FK_API CUresult cuEventDestroy_v2(CUevent e) {
    if (!e || e->magic != EVENT_MAGIC) {
        fk_say("cuEventDestroy_v2", "not an event");
        return FK_INVALID_HANDLE;
    }
    e->magic = 0;
    free(e);
    return 0;
}
FK_API CUresult cuEventRecord(CUevent e, CUstream s) {
    if (!e || e->magic != EVENT_MAGIC || !fk_stream_ok(s)) {
        fk_say("cuEventRecord", "not an event or not a stream");
        return FK_INVALID_HANDLE;
    }
    return 0;
}
FK_API CUresult cuEventSynchronize(CUevent e) {
    if (!e || e->magic != EVENT_MAGIC) {
        fk_say("cuEventSynchronize", "not an event");
        return FK_INVALID_HANDLE;
    }
    return fk_refuse_in_capture("cuEventSynchronize", NULL);
}

/* ---- graphs ---- */

FK_API CUresult cuGraphInstantiateWithFlags(CUgraphExec *x, CUgraph g, unsigned long long flags) {
    int r = fk_need_context("cuGraphInstantiateWithFlags");
    if (r) return r;
    if (!x || !g || g->magic != GRAPH_MAGIC) {
        fk_say("cuGraphInstantiateWithFlags", "not a graph");
        return FK_INVALID_VALUE;
    }
    (void)flags;
    CUgraphExec n = calloc(1, sizeof *n);
    if (!n || oplist_copy(&n->ops, &g->ops)) {
        free(n);
        return FK_OUT_OF_MEMORY;
    }
    n->magic = EXEC_MAGIC;
    *x = n;
    return 0;
}

FK_API CUresult cuGraphLaunch(CUgraphExec x, CUstream s) {
    int r = fk_need_context("cuGraphLaunch");
    if (r) return r;
    if (!x || x->magic != EXEC_MAGIC || !fk_stream_ok(s)) {
        fk_say("cuGraphLaunch", "not an executable graph or not a stream");
        return FK_INVALID_HANDLE;
    }
    if (fk_capturing(s)) {
        /* sslc never nests graphs; refusing makes a backend that starts to do so fail in CI */
        fk_say("cuGraphLaunch", "a graph launched into a capturing stream (a child graph): sslc never does this; refused");
        return FK_NOT_SUPPORTED;
    }
    fk_graph_launches++;
    for (int i = 0; i < x->ops.n; i++) {
        const fk_op *op = &x->ops.ops[i];
        r = op->check ? op->check(op->payload) : 0;
        if (!r) r = op->run(op->payload);
        if (r) {
            fk_say("cuGraphLaunch", "node %d of %d (%s) failed with status %d", i, x->ops.n, op->call, r);
            return FK_LAUNCH_FAILED;
        }
    }
    return 0;
}

FK_API CUresult cuGraphExecDestroy(CUgraphExec x) {
    if (!x || x->magic != EXEC_MAGIC) {
        fk_say("cuGraphExecDestroy", "not an executable graph");
        return FK_INVALID_VALUE;
    }
    oplist_free(&x->ops);
    x->magic = 0;
    free(x);
    return 0;
}

FK_API CUresult cuGraphDestroy(CUgraph g) {
    if (!g || g->magic != GRAPH_MAGIC) {
        fk_say("cuGraphDestroy", "not a graph");
        return FK_INVALID_VALUE;
    }
    oplist_free(&g->ops);
    g->magic = 0;
    free(g);
    return 0;
}

/* for tests of the stand-in itself: operations recorded by s's capture so far */
FK_API int sslc_fakecuda_recorded(CUstream s) { return fk_capturing(s) ? s->rec.n : -1; }
