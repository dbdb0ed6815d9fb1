/* Bounded fuzzing of the plan and safetensors readers: mutated files must be refused with one
 * line or accepted as well-formed content (which then re-encodes and reads back identically);
 * never a crash, a sanitizer report or a leak.
 *
 * SSLC_FUZZ_SECONDS (default 20) is the total time, 60% plan files, 40% safetensors.
 * SSLC_FUZZ_SEED (default 1) seeds the mutations; the run prints it with the outcome counts.
 * SSLC_FUZZ_PLAN=FILE adds a plan file (e.g. one `sslc compile` wrote) to the plan corpus.
 * The corpus holds the sample plan with and without its compiled step; structured mutations
 * also change the step (lowered graph, roots, launches, kernels, sources, memory plan, CUBIN),
 * and an accepted plan with a step must also run one step on the cpu backend. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "fuzzkit.h"
#include "optest.h"
#include "plan.pb-c.h"
#include "plan_sample.h"
#include "runtime/engine.h"
#include "runtime/safetensors.h"

static char tmpdir[256];

/* ---------------- plan files ---------------- */

static void fix_header(unsigned char *b, size_t len) {
    size_t n = len - PLAN_HEADER_BYTES;
    uint32_t c = (uint32_t)crc32(0, b + PLAN_HEADER_BYTES, (uInt)n);
    for (int i = 0; i < 4; i++) b[12 + i] = (unsigned char)(c >> (8 * i));
    for (int i = 0; i < 8; i++) b[16 + i] = (unsigned char)((uint64_t)n >> (8 * i));
}

static const int64_t interesting[] = {-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 100, -7, 1 << 20, (int64_t)1 << 40,
                                      INT64_MAX, INT64_MIN, 2147483647, -2147483647 - 1};
static int64_t pick_int(int64_t near) {
    switch (below(4)) {
    case 0: return interesting[below(sizeof interesting / sizeof interesting[0])];
    case 1: return (int64_t)((uint64_t)near + below(5) - 2);
    case 2: return (int64_t)rnd();
    default: return (int64_t)below(64) - 8;
    }
}

/* enum fields of unpacked messages may hold any int: access them as ints (see planfile.c) */
static int geti(const void *f) {
    int v;
    memcpy(&v, f, sizeof v);
    return v;
}
static void seti(void *f, int64_t v) {
    int x = (int)v;
    memcpy(f, &x, sizeof x);
}

static void set_name(char **slot, const char *s) {
    if (*slot && *slot != protobuf_c_empty_string) free(*slot);
    *slot = strdup(s);
}

/* After an op swap: give the node the new op's attribute names with random values of the right
 * kinds (dropping extra attributes), so inference runs instead of an unknown-attribute error. */
static void retarget_attrs(Sslc__Node *n, const ir_opdef *def) {
    while (n->n_attrs > (size_t)def->nattrs) sslc__attr__free_unpacked(n->attrs[--n->n_attrs], NULL);
    for (size_t j = 0; j < n->n_attrs; j++) {
        Sslc__Attr *a = n->attrs[j];
        set_name(&a->name, def->attrs[j].name);
        a->i = 0;
        a->f = 0;
        a->n_ints = 0;
        switch (def->attrs[j].type) {
        case AT_INT: a->i = below(3) ? (int64_t)below(4) - 1 : pick_int(1); break;
        case AT_FLOAT: a->f = (double)below(100) / 64.0; break;
        case AT_INTS: {
            size_t k = below(4) ? below(5) : below(IR_MAX_INTS + 2); /* also past the largest rank */
            a->ints = realloc(a->ints, (k + 1) * sizeof *a->ints);
            for (size_t t = 0; t < k; t++) a->ints[t] = below(3) ? (int64_t)below(5) - 1 : pick_int(2);
            a->n_ints = k;
            break;
        }
        default: break;
        }
    }
}

/* Changes one field of a graph; anything reallocated uses malloc, as free_unpacked expects. */
static void mutate_graph(Sslc__Graph *g) {
    if (!g || !g->n_values) return;
    size_t nv = g->n_values;
    Sslc__Value *v = g->values[below(nv)];
    Sslc__Node *n = g->n_nodes ? g->nodes[below(g->n_nodes)] : NULL;
    switch (below(18)) {
    case 0: seti(&v->dtype, pick_int(geti(&v->dtype))); break;
    case 1: seti(&v->kind, pick_int(geti(&v->kind))); break;
    case 2:
        if (v->n_dims) v->dims[below(v->n_dims)] = pick_int(v->dims[0]);
        break;
    case 3:
        if (v->n_dims) v->n_dims = below(v->n_dims);
        break;
    case 4:
        if (v->init) {
            seti(&v->init->kind, pick_int(geti(&v->init->kind)));
            if (below(2)) v->init->src = (int32_t)pick_int(v->init->src);
        }
        break;
    case 5:
        if (v->const_data.len) v->const_data.len = below(v->const_data.len);
        break;
    case 6:
        if (n && n->n_inputs) n->inputs[below(n->n_inputs)] = (int32_t)pick_int((int64_t)below(nv));
        break;
    case 7:
        if (n && n->n_outputs) n->outputs[below(n->n_outputs)] = (int32_t)pick_int(n->outputs[0]);
        break;
    case 8:
    case 9:
        if (n) { /* another op's name: exercises every op's shape inference on odd inputs */
            if (n->op != protobuf_c_empty_string) free(n->op);
            if (!below(8)) {
                n->op = strdup("NoSuchOp");
                break;
            }
            const ir_opdef *def = ir_optable[below(OP__COUNT)];
            n->op = strdup(def->name);
            if (below(4)) retarget_attrs(n, def);
        }
        break;
    case 10:
        if (n && n->n_attrs) {
            Sslc__Attr *a = n->attrs[below(n->n_attrs)];
            if (a->n_ints) a->ints[below(a->n_ints)] = pick_int(a->ints[0]);
            else a->i = pick_int(a->i);
        }
        break;
    case 11:
        if (n && n->n_attrs) {
            Sslc__Attr *a = n->attrs[below(n->n_attrs)];
            if (a->n_ints && below(2)) { /* grow an integer list, up to one past the limit */
                size_t k = a->n_ints + 1 + below(IR_MAX_INTS);
                if (k > IR_MAX_INTS + 1) k = IR_MAX_INTS + 1;
                a->ints = realloc(a->ints, k * sizeof *a->ints);
                for (size_t t = a->n_ints; t < k; t++) a->ints[t] = below(4) ? 1 : pick_int(1);
                a->n_ints = k;
            } else if (a->n_ints)
                a->n_ints = below(a->n_ints + 1);
            else if (below(2)) a->f = (double)pick_int(0) * 0.37;
        }
        break;
    case 12:
        if (n && n->n_inputs > 1) n->n_inputs--; /* arity errors */
        break;
    case 13:
        if (g->n_updates) {
            Sslc__Update *u = g->updates[below(g->n_updates)];
            if (below(2)) u->dst = (int32_t)pick_int(u->dst);
            else u->src = (int32_t)pick_int(u->src);
        }
        break;
    case 14:
        if (g->n_outputs) g->outputs[below(g->n_outputs)] = (int32_t)pick_int(g->outputs[0]);
        break;
    case 15:
        if (n && n->n_inputs < IR_MAX_IN + 1) { /* one more input */
            n->inputs = realloc(n->inputs, (n->n_inputs + 1) * sizeof *n->inputs);
            n->inputs[n->n_inputs++] = (int32_t)below(nv);
        }
        break;
    case 16:
        if (v->n_dims <= IR_MAX_DIMS) { /* one more dimension */
            v->dims = realloc(v->dims, (v->n_dims + 1) * sizeof *v->dims);
            v->dims[v->n_dims++] = below(4) ? (int64_t)below(5) : pick_int(2);
        }
        break;
    default:
        if (g->n_nodes > 1) { /* reorder nodes */
            size_t i = below(g->n_nodes), j = below(g->n_nodes);
            Sslc__Node *t = g->nodes[i];
            g->nodes[i] = g->nodes[j];
            g->nodes[j] = t;
        }
        break;
    }
}

/* Changes one field of the compiled step. */
static void mutate_step(Sslc__CompiledStep *c) {
    Sslc__Kernel *k = c->n_kernels ? c->kernels[below(c->n_kernels)] : NULL;
    Sslc__Segment *sg = k && k->n_segments ? k->segments[below(k->n_segments)] : NULL;
    Sslc__Launch *l = c->n_launches ? c->launches[below(c->n_launches)] : NULL;
    Sslc__MemoryPlan *m = c->memory;
    switch (below(16)) {
    case 0: mutate_graph(c->lowered); break;
    case 1:
        if (c->n_root) c->root[below(c->n_root)] = (int32_t)pick_int((int64_t)below(c->n_root));
        break;
    case 2:
        if (l) l->index = (int32_t)pick_int(l->index);
        break;
    case 3:
        if (l) l->fused = !l->fused;
        break;
    case 4:
        if (l) { /* an in-place offer */
            l->inplace = realloc(l->inplace, (l->n_inplace + 1) * sizeof *l->inplace);
            l->inplace[l->n_inplace++] = (int32_t)pick_int(0);
        }
        break;
    case 5:
        if (c->n_launches > 1) { /* reorder launches */
            size_t i = below(c->n_launches), j = below(c->n_launches);
            Sslc__Launch *t = c->launches[i];
            c->launches[i] = c->launches[j];
            c->launches[j] = t;
        }
        break;
    case 6:
        if (sg && sg->n_loads) sg->loads[below(sg->n_loads)] = (int32_t)pick_int(sg->loads[0]);
        break;
    case 7:
        if (sg && sg->n_stores) sg->stores[below(sg->n_stores)] = (int32_t)pick_int(sg->stores[0]);
        break;
    case 8:
        if (sg) {
            if (below(2) && sg->n_dom) sg->dom[below(sg->n_dom)] = pick_int(sg->dom[0]);
            else sg->redmask = (uint32_t)pick_int(sg->redmask);
        }
        break;
    case 9:
        if (k && k->c_source && k->c_source[0]) { /* one character of the source */
            size_t n = strlen(k->c_source);
            k->c_source[below(n)] = (char)(' ' + below(90));
        }
        break;
    case 10:
        if (m && m->n_offset) m->offset[below(m->n_offset)] = below(2) ? pick_int(m->offset[0]) : (int64_t)below(64) * 64;
        break;
    case 11:
        if (m && m->n_kind) m->kind[below(m->n_kind)] = (uint32_t)below(4);
        break;
    case 12:
        if (m) {
            if (below(2)) m->arena_bytes = pick_int(m->arena_bytes);
            else m->persistent_bytes = pick_int(m->persistent_bytes);
        }
        break;
    case 13:
        if (below(2)) c->graph_hash ^= 1ull << below(64);
        else c->kernels_hash ^= 1ull << below(64);
        break;
    case 14: { /* a CUBIN image appears */
        Sslc__Cubin *cb = malloc(sizeof *cb);
        sslc__cubin__init(cb);
        cb->arch = (uint32_t)(below(2) ? 80 : pick_int(90));
        cb->image.len = below(8);
        cb->image.data = malloc(cb->image.len + 1);
        memset(cb->image.data, 0x7f, cb->image.len + 1);
        c->cubins = realloc(c->cubins, (c->n_cubins + 1) * sizeof *c->cubins);
        c->cubins[c->n_cubins++] = cb;
        break;
    }
    default:
        if (k && k->n_segments && below(2)) /* drop a segment */
            sslc__segment__free_unpacked(k->segments[--k->n_segments], NULL);
        else if (m) m->sum_bytes = pick_int(m->sum_bytes); /* informational: may be accepted */
        break;
    }
}

/* Changes one field of an unpacked plan. */
static void mutate_struct(Sslc__Plan *pp) {
    if (pp->train && pp->train->compiled && below(2))
        mutate_step(pp->train->compiled);
    else
        mutate_graph(pp->train);
}

/* a mutated copy of `good` (malloc'd); *kind says which mutation */
static unsigned char *mutate_plan(const unsigned char *good, size_t glen, size_t *len, int *kind) {
    size_t cap = glen + 64;
    unsigned char *b = malloc(cap);
    memcpy(b, good, glen);
    *len = glen;
    size_t pl = glen - PLAN_HEADER_BYTES;
    *kind = (int)below(7);
    switch (*kind) {
    case 0: /* bit flips anywhere, checksum left stale */
        for (size_t k = 1 + below(8); k > 0; k--) b[below(glen)] ^= (unsigned char)(1u << below(8));
        break;
    case 1: /* truncation */
        *len = below(glen);
        break;
    case 2: /* random payload bytes, checksum recomputed */
        for (size_t k = 1 + below(6); k > 0; k--) b[PLAN_HEADER_BYTES + below(pl)] = (unsigned char)rnd();
        fix_header(b, *len);
        break;
    case 3: { /* insert or delete payload bytes, length and checksum recomputed */
        size_t at = PLAN_HEADER_BYTES + below(pl), k = 1 + below(8);
        if (below(2)) {
            memmove(b + at + k, b + at, glen - at);
            for (size_t i = 0; i < k; i++) b[at + i] = (unsigned char)rnd();
            *len = glen + k;
        } else {
            if (k > glen - at) k = glen - at;
            memmove(b + at, b + at + k, glen - at - k);
            *len = glen - k;
        }
        fix_header(b, *len);
        break;
    }
    case 4: { /* copy a chunk of the payload over another place (protobuf-shaped garbage) */
        size_t k = 1 + below(32), from = PLAN_HEADER_BYTES + below(pl), to = PLAN_HEADER_BYTES + below(pl);
        if (k > glen - from) k = glen - from;
        if (k > glen - to) k = glen - to;
        memmove(b + to, good + from, k);
        fix_header(b, *len);
        break;
    }
    case 5: { /* structured: a field of the decoded message, repacked with a valid header */
        Sslc__Plan *pp = sslc__plan__unpack(NULL, pl, good + PLAN_HEADER_BYTES);
        if (!pp) break;
        for (size_t k = 1 + below(3); k > 0; k--) mutate_struct(pp);
        size_t n = sslc__plan__get_packed_size(pp);
        if (PLAN_HEADER_BYTES + n > cap) b = realloc(b, cap = PLAN_HEADER_BYTES + n);
        sslc__plan__pack(pp, b + PLAN_HEADER_BYTES);
        sslc__plan__free_unpacked(pp, NULL);
        *len = PLAN_HEADER_BYTES + n;
        fix_header(b, *len);
        break;
    }
    default: /* header fields */
        switch (below(3)) {
        case 0: b[8 + below(4)] = (unsigned char)rnd(); break;         /* version */
        case 1: b[16 + below(8)] = (unsigned char)rnd(); break;        /* length */
        default: b[below(8)] = (unsigned char)rnd(); break;            /* magic */
        }
        break;
    }
    return b;
}

/* an accepted plan must be well formed and re-encode to something that reads back equal */
static int check_accepted(const sslc_plan *p) {
    const ir_graph *g = &p->train;
    CHECK(!g->failed, "accepted graph has failed set");
    for (int i = 0; i < g->nvals; i++) {
        const ir_value *v = &g->vals[i];
        CHECK(v->id == i && (unsigned)v->dtype < DT__COUNT && (unsigned)v->kind < VK__COUNT, "value %d fields", i);
        CHECK(v->shape.ndim >= 0 && v->shape.ndim <= IR_MAX_DIMS, "value %d rank", i);
        for (int d = 0; d < v->shape.ndim; d++) CHECK(v->shape.d[d] >= 0, "value %d negative dim", i);
        CHECK(v->producer >= -1 && v->producer < g->nnodes, "value %d producer", i);
        CHECK((v->kind == VK_CONST || v->init.kind == INIT_DATA) == (v->data != NULL), "value %d data", i);
    }
    for (int k = 0; k < g->nnodes; k++) {
        const ir_node *n = &g->nodes[k];
        CHECK(n->op >= 0 && n->op < OP__COUNT && n->nout >= 1, "node %d", k);
        for (int j = 0; j < n->nin; j++) CHECK(n->in[j] >= 0 && n->in[j] < n->out[0], "node %d input", k);
    }
    for (int i = 0; i < g->noutputs; i++) CHECK(g->outputs[i] >= 0 && g->outputs[i] < g->nvals, "output");
    for (int i = 0; i < g->nupdates; i++)
        CHECK(g->updates[i].dst >= 0 && g->updates[i].dst < g->nvals && g->updates[i].src >= 0 &&
                  g->updates[i].src < g->nvals,
              "update");
    unsigned char *b;
    size_t len;
    char err[IR_ERRLEN];
    if (p->has_step) { /* what the checks let through must run a step on the cpu backend without a
                          * crash; an op may refuse the all-zero inputs (a crop box), with one line */
        engine *e = engine_new_plan(ENGINE_CPU, 0, p, NULL, 0, err);
        CHECK(e, "accepted step does not start: %s", err);
        err[0] = 0;
        int rc = engine_init_persistent(e, p->seed, err) || engine_run(e, err);
        engine_free(e);
        CHECK(rc == 0 || (err[0] && !strchr(err, '\n')), "accepted step failed without a message");
    }
    CHECK(plan_encode(p, &b, &len, err) == 0, "accepted plan does not re-encode: %s", err);
    sslc_plan q;
    CHECK(plan_decode(&q, b, len, "re", err) == 0, "re-encoded plan refused: %s", err);
    int d = plan_diff(p, &q);
    plan_free(&q);
    free(b);
    CHECK(d == 0, "re-encoded plan differs");
    return 0;
}

static const char *const plan_classes[] = {"not an sslc plan", "truncated", "trailing bytes", "format version",
                                           "checksum",         "not a valid plan message", "compiled step", "graph:",
                                           "option",           NULL};

static int fuzz_plans(double seconds) {
    sslc_plan p;
    char err[IR_ERRLEN];
    unsigned char *good[4];
    size_t glen[4];
    int ngood = 3;
    CHECK(sample_plan(&p, 1) == 0, "sample");
    CHECK(plan_encode(&p, &good[0], &glen[0], err) == 0, "%s", err);
    p.has_eval = 1;
    CHECK(sample_graph(&p.eval, 0) == 0, "eval");
    CHECK(plan_encode(&p, &good[1], &glen[1], err) == 0, "%s", err);
    plan_free(&p);
    CHECK(sample_plan_step(&p) == 0, "sample with step");
    CHECK(plan_encode(&p, &good[2], &glen[2], err) == 0, "%s", err);
    plan_free(&p);
    const char *extra = getenv("SSLC_FUZZ_PLAN");
    if (extra && extra[0]) {
        FILE *f = fopen(extra, "rb");
        CHECK(f, "cannot open SSLC_FUZZ_PLAN=%s", extra);
        fseek(f, 0, SEEK_END);
        glen[3] = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
        good[3] = malloc(glen[3] + 1);
        CHECK(fread(good[3], 1, glen[3], f) == glen[3], "read %s", extra);
        fclose(f);
        CHECK(plan_decode(&p, good[3], glen[3], extra, err) == 0, "%s", err);
        printf("corpus: %s (%d nodes)\n", extra, p.train.nnodes);
        plan_free(&p);
        ngood = 4;
    }
    long iters = 0, accepted = 0, by_kind[8] = {0}, by_class[16] = {0}, other = 0;
    char path[512];
    snprintf(path, sizeof path, "%s/f.plan", tmpdir);
    double end = now() + seconds;
    while (now() < end) {
        for (int rep = 0; rep < 32; rep++, iters++) {
            int which = (int)below((size_t)ngood), kind;
            size_t len;
            unsigned char *b = mutate_plan(good[which], glen[which], &len, &kind);
            by_kind[kind]++;
            int rc;
            err[0] = 0;
            if (iters % 512 == 0) { /* now and then through the file path */
                FILE *f = fopen(path, "wb");
                if (len) fwrite(b, 1, len, f);
                fclose(f);
                rc = plan_read(&p, path, err);
            } else {
                rc = plan_decode(&p, b, len, "f.plan", err);
            }
            if (rc == 0) {
                accepted++;
                if (check_accepted(&p)) {
                    fprintf(stderr, "iteration %ld (mutation %d) accepted a bad plan\n", iters, kind);
                    return 1;
                }
            } else {
                CHECK(err[0] && !strchr(err, '\n'), "iteration %ld: bad message '%s'", iters, err);
                CHECK(p.train.nvals == 0 && p.nopts == 0, "iteration %ld: refused plan not empty", iters);
                int c = 0;
                while (plan_classes[c] && !strstr(err, plan_classes[c])) c++;
                plan_classes[c] ? by_class[c]++ : other++;
                if (!plan_classes[c] && other <= 5) printf("     other: %s\n", err);
            }
            plan_free(&p);
            free(b);
        }
    }
    printf("plan fuzz: %ld inputs, %ld accepted; mutations:", iters, accepted);
    for (int k = 0; k < 7; k++) printf(" %ld", by_kind[k]);
    printf("\n  refused:");
    for (int c = 0; plan_classes[c]; c++) printf(" [%s] %ld", plan_classes[c], by_class[c]);
    printf(" [other] %ld\n", other);
    CHECK(by_class[7] > 0 && by_class[6] > 0 && by_class[5] > 0 && by_class[4] > 0,
          "semantic/step/protobuf/CRC checks never reached");
    for (int i = 0; i < ngood; i++) free(good[i]);
    return 0;
}

/* ---------------- safetensors ---------------- */

static unsigned char *st_sample(size_t *len) {
    st_table t;
    char err[IR_ERRLEN];
    float f[6] = {1, 2, 3, 4, 5, 6};
    double d[2] = {0.5, -1};
    int64_t i[3] = {1, -2, 3};
    uint8_t u[3] = {9, 8, 7};
    st_init(&t);
    st_add(&t, "layer1.0.conv1.weight", ST_F32, 4, (int64_t[]){1, 2, 3, 1}, f, err);
    st_add(&t, "d", ST_F64, 1, (int64_t[]){2}, d, err);
    st_add(&t, "bn.num_batches_tracked", ST_I64, 1, (int64_t[]){3}, i, err);
    st_add(&t, "u\\\"\xc3\xa9", ST_U8, 1, (int64_t[]){3}, u, err);
    st_add(&t, "scalar", ST_F32, 0, NULL, f, err);
    st_add(&t, "empty", ST_F64, 2, (int64_t[]){0, 3}, NULL, err);
    st_set_meta(&t, "format", "pt", err);
    unsigned char *b;
    if (st_encode(&t, &b, len, err) != 0) b = NULL;
    st_free(&t);
    return b;
}

static const char *const json_tokens[] = {"{",  "}",      "[",       "]",       ",",     ":",     "\"",   "\\",
                                          " ",  "\\u",    "\\ud800", "0",       "-1",    "1.5",   "1e3",  "18446744073709551616",
                                          "8",  "\"F32\"", "\"BF16\"", "\"I64\"", "null", "true",  "\"__metadata__\"",
                                          "\xff", "\xc3\xa9", "\"shape\"", "\"dtype\"", "\"data_offsets\"", "[0,0]", "{}", "\"\""};

static void set_hlen(unsigned char *b, uint64_t n) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(n >> (8 * i));
}

static unsigned char *mutate_st(const unsigned char *good, size_t glen, size_t *len, int *kind) {
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | good[i];
    size_t cap = glen + 256;
    unsigned char *b = malloc(cap);
    memcpy(b, good, glen);
    *len = glen;
    *kind = (int)below(6);
    switch (*kind) {
    case 0: /* bit flips anywhere */
        for (size_t k = 1 + below(6); k > 0; k--) b[below(glen)] ^= (unsigned char)(1u << below(8));
        break;
    case 1: /* truncation */
        *len = below(glen);
        break;
    case 2: /* random bytes inside the header */
        for (size_t k = 1 + below(4); k > 0; k--) b[8 + below(hl)] = (unsigned char)rnd();
        break;
    case 3: { /* insert a JSON token or delete a span in the header; length prefix follows */
        size_t at = 8 + below(hl);
        if (below(2)) {
            const char *tok = json_tokens[below(sizeof json_tokens / sizeof json_tokens[0])];
            size_t k = strlen(tok);
            memmove(b + at + k, b + at, glen - at);
            memcpy(b + at, tok, k);
            *len = glen + k;
            set_hlen(b, hl + k);
        } else {
            size_t k = 1 + below(6);
            if (k > hl - (at - 8)) k = hl - (at - 8);
            memmove(b + at, b + at + k, glen - at - k);
            *len = glen - k;
            set_hlen(b, hl - k);
        }
        break;
    }
    case 4: { /* replace a number in the header by an interesting one */
        size_t at = 8 + below(hl);
        while (at < 8 + hl && !(b[at] >= '0' && b[at] <= '9')) at++;
        if (at >= 8 + hl) break;
        size_t e = at;
        while (e < 8 + hl && b[e] >= '0' && b[e] <= '9') e++;
        char num[32];
        int k = snprintf(num, sizeof num, "%lld", (long long)pick_int((int64_t)strtoll((char *)b + at, NULL, 10)));
        size_t old = e - at;
        memmove(b + at + (size_t)k, good + e, glen - e);
        memcpy(b + at, num, (size_t)k);
        *len = glen - old + (size_t)k;
        set_hlen(b, hl - old + (size_t)k);
        break;
    }
    default: /* length prefix */
        if (below(2))
            set_hlen(b, hl + (uint64_t)below(17) - 8);
        else
            b[below(8)] = (unsigned char)rnd();
        break;
    }
    return b;
}

static int st_check_accepted(const st_table *t) {
    for (int i = 0; i < t->n; i++) {
        const st_tensor *x = &t->t[i];
        CHECK(x->name && x->name[0] && (unsigned)x->dtype < ST__COUNT && x->ndim >= 0 && x->ndim <= ST_MAX_DIMS,
              "tensor %d", i);
        CHECK((size_t)st_numel(x) * st_dtype_size(x->dtype) == x->nbytes && x->data, "tensor %d size", i);
        for (int j = 0; j < i; j++) CHECK(strcmp(t->t[j].name, x->name) != 0, "duplicate name accepted");
    }
    unsigned char *b;
    size_t len;
    char err[IR_ERRLEN];
    CHECK(st_encode(t, &b, &len, err) == 0, "accepted table does not re-encode: %s", err);
    st_table u;
    CHECK(st_decode(&u, b, len, "re", err) == 0, "re-encoded table refused: %s", err);
    CHECK(u.n == t->n && u.nmeta == t->nmeta, "re-read counts");
    for (int i = 0; i < t->n; i++) {
        const st_tensor *y = st_find(&u, t->t[i].name);
        CHECK(y && y->nbytes == t->t[i].nbytes && (y->nbytes == 0 || memcmp(y->data, t->t[i].data, y->nbytes) == 0),
              "re-read tensor");
    }
    st_free(&u);
    free(b);
    return 0;
}

static int fuzz_safetensors(double seconds) {
    size_t glen;
    unsigned char *good = st_sample(&glen);
    CHECK(good, "sample");
    long iters = 0, accepted = 0, by_kind[6] = {0}, header = 0, other = 0;
    char path[512], err[IR_ERRLEN];
    snprintf(path, sizeof path, "%s/f.safetensors", tmpdir);
    double end = now() + seconds;
    while (now() < end) {
        for (int rep = 0; rep < 64; rep++, iters++) {
            int kind;
            size_t len;
            unsigned char *b = mutate_st(good, glen, &len, &kind);
            by_kind[kind]++;
            st_table t;
            int rc;
            err[0] = 0;
            if (iters % 512 == 0) {
                FILE *f = fopen(path, "wb");
                if (len) fwrite(b, 1, len, f);
                fclose(f);
                rc = st_read(&t, path, err);
            } else {
                rc = st_decode(&t, b, len, "f.safetensors", err);
            }
            if (rc == 0) {
                accepted++;
                if (st_check_accepted(&t)) {
                    fprintf(stderr, "iteration %ld (mutation %d) accepted a bad file\n", iters, kind);
                    return 1;
                }
            } else {
                CHECK(err[0] && !strchr(err, '\n'), "iteration %ld: bad message '%s'", iters, err);
                CHECK(t.n == 0 && t.nmeta == 0, "iteration %ld: refused table not empty", iters);
                strstr(err, "invalid safetensors header") ? header++ : other++;
            }
            st_free(&t);
            free(b);
        }
    }
    printf("safetensors fuzz: %ld inputs, %ld accepted, %ld refused by the header parser, %ld otherwise; "
           "mutations:",
           iters, accepted, header, other);
    for (int k = 0; k < 6; k++) printf(" %ld", by_kind[k]);
    printf("\n");
    CHECK(header > 0 && accepted > 0, "parser never reached or nothing accepted");
    free(good);
    return 0;
}

int main(void) {
    const char *s = getenv("SSLC_FUZZ_SECONDS"), *seed = getenv("SSLC_FUZZ_SEED");
    double seconds = s ? atof(s) : 20.0;
    if (seconds <= 0) seconds = 0.1;
    fuzz_rs = seed ? strtoull(seed, NULL, 0) : 1;
    if (!fuzz_rs) fuzz_rs = 1;
    printf("fuzzing for %.1f s, seed %llu\n", seconds, (unsigned long long)fuzz_rs);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sslc_fuzz_XXXXXX");
    CHECK(mkdtemp(tmpdir), "mkdtemp");
    char cache[300];
    snprintf(cache, sizeof cache, "%s/cache", tmpdir); /* kernels of accepted steps */
    setenv("SSLC_CACHE_DIR", cache, 1);
    int fails = fuzz_plans(0.6 * seconds);
    if (!fails) fails = fuzz_safetensors(0.4 * seconds);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    printf(fails ? "FAILED\n" : "fuzzing found no crash\n");
    return fails;
}
