/* A content hash of a graph: what the plan file stores of it (values: dtype, kind, shape, flags,
 * name, init recipe, constant data; nodes: op, inputs, outputs, attributes; outputs; updates).
 * A compiled step records the hash of the graph it was compiled from, so a reader can tell
 * whether a stored step still belongs to the graph next to it. Initial contents of imported
 * weights (INIT_DATA) are left out: they do not change what the step computes. */
#ifndef SSLC_GRAPH_HASH_H
#define SSLC_GRAPH_HASH_H
#include <stddef.h>
#include <stdint.h>

#include "ir.h"

#define FNV64_INIT 1469598103934665603ULL
/* FNV-1a over n bytes, continuing from h */
uint64_t fnv64(uint64_t h, const void *p, size_t n);
uint64_t ir_graph_hash(const ir_graph *g);

#endif
