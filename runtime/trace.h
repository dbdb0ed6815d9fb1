/* SSLC_TRACE=FILE: a Chrome trace (the JSON format chrome://tracing and Perfetto load) of the
 * executor's steps: one complete ("X") span per fused kernel, library op, reference op and
 * collective, and one span per training step around them. pid is the rank, so the spans of a
 * data-parallel job line up rank by rank. Rank 0 writes FILE, rank r > 0 writes FILE.rank<r>
 * (ranks never share a file); concatenating their traceEvents arrays gives the job's trace.
 * Times are wall-clock microseconds (CLOCK_REALTIME), comparable across the ranks of a host. */
#ifndef SSLC_TRACE_H
#define SSLC_TRACE_H
#include <stdio.h>

typedef struct exec_trace exec_trace;

/* the trace SSLC_TRACE asks for, NULL when it is unset; -1 in *failed with err when the file
 * cannot be created (err IR_ERRLEN) */
exec_trace *trace_open_env(int rank, int *failed, char *err);
double trace_now_us(void);
/* one span [t0, t1] (microseconds from trace_now_us); cat: "kernel", "library", "ref", "collective",
 * "step", "in flight" (a split AllReduce from its start to its wait, on a row of its own) */
void trace_span(exec_trace *t, const char *name, const char *cat, double t0, double t1, int step, int run);
/* ends the JSON and closes the file */
void trace_close(exec_trace *t);

#endif
