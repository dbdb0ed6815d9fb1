/* Nesting depth of protobuf wire data, measured without recursion. protobuf-c's unpack recurses
 * once per nested message, so a file of messages nested thousands deep (a few bytes a level)
 * overflows the stack; the plan and ONNX readers measure the depth first and refuse. */
#ifndef SSLC_PBNEST_H
#define SSLC_PBNEST_H
#include <stddef.h>

/* The deepest chain of nested messages in buf[0..n): 1 for a message without sub-messages, 0 when
 * buf is not well-formed wire data (protobuf-c then says so). Without a schema, any
 * length-delimited field whose contents are well-formed wire data counts as a sub-message (a
 * string or bytes field can only make the count larger). Counting stops at limit + 1, so
 * pb_nesting(...) > limit means "too deep". O(n) time, O(limit) memory; limit is at most
 * PB_NEST_MAX. */
#define PB_NEST_MAX 1024
int pb_nesting(const unsigned char *buf, size_t n, int limit);

#endif
