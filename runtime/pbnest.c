/* Iterative wire-format walk for pb_nesting: one frame per candidate sub-message on an explicit
 * stack. A parent skips over a child's bytes before the child frame is pushed, so every byte is
 * parsed by exactly one frame (the deepest candidate around it): linear time. A child that turns
 * out not to be well-formed is popped without counting (it was a string or bytes field). */
#include "pbnest.h"

#include <stdint.h>
#include <stdlib.h>

typedef struct {
    size_t pos, end;
    int height; /* deepest finished sub-message chain below, in levels */
} frame;

/* a varint at *pos below end; 0, or -1 when it runs past end or over 10 bytes */
static int varint(const unsigned char *b, size_t *pos, size_t end, uint64_t *v) {
    uint64_t r = 0;
    for (int i = 0; i < 10 && *pos < end; i++) {
        unsigned char c = b[(*pos)++];
        r |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

int pb_nesting(const unsigned char *buf, size_t n, int limit) {
    if (limit < 1) limit = 1;
    if (limit > PB_NEST_MAX) limit = PB_NEST_MAX;
    frame *st = malloc((size_t)(limit + 1) * sizeof *st);
    if (!st) return 0; /* unmeasured: let the parser decide (it may still fail cleanly) */
    int top = 0, result = 0;
    st[0] = (frame){0, n, 0};
    for (;;) {
        frame *f = &st[top];
        int bad = 0;
        if (f->pos < f->end) {
            uint64_t tag, v;
            if (varint(buf, &f->pos, f->end, &tag) || (tag >> 3) == 0) {
                bad = 1;
            } else {
                switch (tag & 7) {
                case 0: bad = varint(buf, &f->pos, f->end, &v); break;
                case 1: bad = f->end - f->pos < 8; f->pos += bad ? 0 : 8; break;
                case 5: bad = f->end - f->pos < 4; f->pos += bad ? 0 : 4; break;
                case 2:
                    if (varint(buf, &f->pos, f->end, &v) || v > f->end - f->pos) {
                        bad = 1;
                        break;
                    }
                    size_t start = f->pos;
                    f->pos += (size_t)v;
                    /* the frame at index `limit` (depth limit + 1) is only checked for
                     * well-formedness: one more level already means "too deep" */
                    if (v > 0 && top < limit) st[++top] = (frame){start, start + (size_t)v, 0};
                    else if (v == 0 && f->height < 1) f->height = 1; /* an empty message */
                    break;
                default: bad = 1; /* groups (3, 4) and wire types 6, 7: protobuf-c takes none */
                }
            }
            if (!bad) continue;
        }
        /* frame done: well-formed when it reached its end without a bad field */
        int h = bad ? 0 : f->height + 1;
        if (top == 0) {
            result = h;
            break;
        }
        top--;
        if (h > st[top].height) st[top].height = h;
    }
    free(st);
    return result;
}
