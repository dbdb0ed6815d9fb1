#include "updates.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t nbytes(const ref_tensor *t) { return (size_t)t->numel * ir_dtype_size(t->dtype); }

static int overlaps(const ref_tensor *a, const ref_tensor *b) {
    const unsigned char *p = a->data, *q = b->data;
    if (!p || !q) return 0;
    return p < q + nbytes(b) && q < p + nbytes(a);
}

/* whether update u's source shares bytes with some update's destination */
static int must_stage(const ir_graph *g, const ref_tensor *t, int u) {
    const ref_tensor *s = &t[g->updates[u].src];
    for (int w = 0; w < g->nupdates; w++)
        if (overlaps(s, &t[g->updates[w].dst])) return 1;
    return 0;
}

size_t updates_stage_need(const ir_graph *g, const ref_tensor *t) {
    size_t need = 0;
    for (int u = 0; u < g->nupdates; u++)
        if (t[g->updates[u].src].data && must_stage(g, t, u)) need += (nbytes(&t[g->updates[u].src]) + 63) / 64 * 64;
    return need;
}

unsigned char *updates_staged_flags(const ir_graph *g, const ref_tensor *t) {
    unsigned char *f = g->nupdates ? malloc((size_t)g->nupdates) : NULL;
    for (int u = 0; f && u < g->nupdates; u++) f[u] = (unsigned char)must_stage(g, t, u);
    return f;
}

static int copy(const updates_stage *st, void *dst, const void *src, size_t n, char *err) {
    if (st->copy) return st->copy(st->copy_ctx, dst, src, n, err);
    memcpy(dst, src, n);
    return 0;
}

int updates_apply(const ir_graph *g, const ref_tensor *t, const updates_stage *st, char *err) {
    for (int u = 0; u < g->nupdates; u++) {
        const ref_tensor *s = &t[g->updates[u].src], *d = &t[g->updates[u].dst];
        if (!s->data || !d->data || nbytes(s) != nbytes(d)) {
            const char *name = g->vals[g->updates[u].dst].name;
            snprintf(err, IR_ERRLEN, "update of '%s': source or destination has no storage", name ? name : "?");
            return -1;
        }
    }
    /* first every source that a write would clobber, then every write; must_stage depends on
     * the addresses only, so the second pass finds the staged copies in the same order */
    size_t off = 0;
    for (int u = 0; u < g->nupdates; u++) {
        const ref_tensor *s = &t[g->updates[u].src];
        if (!(st->staged ? st->staged[u] : must_stage(g, t, u))) continue;
        size_t n = nbytes(s);
        if (off + n > st->stage_bytes) {
            snprintf(err, IR_ERRLEN, "update staging too small (%zu bytes)", st->stage_bytes);
            return -1;
        }
        if (copy(st, st->stage + off, s->data, n, err)) return -1;
        off += (n + 63) / 64 * 64;
    }
    off = 0;
    for (int u = 0; u < g->nupdates; u++) {
        const ref_tensor *s = &t[g->updates[u].src], *d = &t[g->updates[u].dst];
        const void *from = s->data;
        if (st->staged ? st->staged[u] : must_stage(g, t, u)) {
            from = st->stage + off;
            off += (nbytes(s) + 63) / 64 * 64;
        }
        if (copy(st, d->data, from, nbytes(d), err)) return -1;
    }
    return 0;
}
