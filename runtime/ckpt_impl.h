/* Shared by checkpoint.c (writing) and ckpt_read.c (reading): the checksum and the NaN / Inf
 * message. Not for other files: they go through runtime/checkpoint.h. */
#ifndef SSLC_CKPT_IMPL_H
#define SSLC_CKPT_IMPL_H
#include "safetensors.h"

#define CKPT_CHECKSUM_KEY "checksum"

/* CRC-32 of a checkpoint's table as the given format version defines it (checkpoint.h) */
int ckpt_checksum(const st_table *t, int version, uint32_t *out, char *err);

/* 0 if the tensor's data is finite; else CKPT_NONFINITE with "<what>'<name>' holds NaN (element
 * i of n)" in err */
int ckpt_nonfinite_msg(const char *what, const char *name, st_dtype dt, const void *p, size_t nbytes, char *err);

#endif
