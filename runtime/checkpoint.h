/* Training checkpoints: every parameter and state tensor of a train graph (BatchNorm running
 * statistics, optimizer slots "opt.<slot>.<param>", method state such as queues and counters) in
 * a safetensors file under the graph's value names (ResNet parameters carry torchvision's names,
 * so `load_state_dict` of the backbone.* tensors works), plus where the run stood:
 *
 *   __metadata__: format "sslc-checkpoint", version "2", step (optimizer steps done), total (the
 *                 run's planned steps), seed, data (dataset spec), plan_crc32 (of the plan file's
 *                 payload, so a checkpoint is not resumed on another plan), checksum (below)
 *
 * checksum: CRC-32 (zlib), 8 lowercase hex digits, over every other metadata pair in key order
 * (key NUL value NUL), then every tensor in name order (name NUL, dtype as one byte of st_dtype,
 * ndim as one byte, each dimension as 8 bytes little-endian, the data): one flipped bit anywhere
 * that matters (a weight, a shape, the step, the seed, the data spec) is refused. safetensors
 * itself has no checksum. Version 1 (sslc before checkpoints covered their metadata) had crc32:
 * CRC-32 over (name NUL, dtype byte, data) of the tensors only; such files are still read, their
 * tensors verified by it (their metadata cannot be), and a resumed run writes version 2.
 *
 * Every reader of weights goes through ckpt_read: `run --resume` (ckpt_load), eval, export,
 * embed, features and step --params. It refuses, with one line in err, a file that fails its
 * checksum or holds a NaN or Inf (naming the tensor). Writes are atomic (runtime/fileio.h): a crash
 * leaves the previous checkpoint; a state holding NaN or Inf is never written. */
#ifndef SSLC_CHECKPOINT_H
#define SSLC_CHECKPOINT_H
#include <stdint.h>

#include "engine.h"
#include "safetensors.h"

#define CKPT_FORMAT "sslc-checkpoint"
#define CKPT_VERSION "2"
#define CKPT_DATA_LEN 1024
#define CKPT_NONFINITE (-2) /* a return of ckpt_save / ckpt_check_state: a tensor is NaN or Inf */

typedef struct {
    int64_t step;  /* optimizer steps done */
    int64_t total; /* steps the run was planned for (its schedules span them) */
    uint64_t seed; /* data order and augmentation seed */
    uint32_t plan_crc32;
    char data[CKPT_DATA_LEN]; /* dataset spec */
} ckpt_meta;

/* A weights file, read and verified: an sslc checkpoint (is_ckpt: its checksum matched, meta
 * holds its metadata) or a plain safetensors file of weights without sslc's metadata (from
 * `sslc step --dump` or PyTorch's save_file: nothing to verify beyond its structure). A file
 * that carries sslc's metadata keys must pass as a checkpoint. Every floating-point tensor is
 * finite. */
typedef struct {
    st_table t;
    int is_ckpt;
    int version; /* 1 or 2 (is_ckpt) */
    ckpt_meta meta;
} ckpt_file;

int ckpt_read(ckpt_file *f, const char *path, char *err);
void ckpt_file_free(ckpt_file *f);

/* The first NaN or Inf among n elements of dtype dt at p: its index, or -1 (also for dtypes
 * without one). */
int64_t ckpt_first_nonfinite(st_dtype dt, const void *p, size_t nbytes);

/* Writes every VK_PARAM and VK_STATE value of engine_graph(e) and meta to path atomically.
 * CKPT_NONFINITE (nothing written) when one holds NaN or Inf: err names it. */
int ckpt_save(const engine *e, const ckpt_meta *meta, const char *path, char *err);

/* Downloads every parameter and state tensor of the engine and checks it is finite: 0, or
 * CKPT_NONFINITE with the tensor named in err, or -1 on an error. */
int ckpt_check_state(const engine *e, char *err);

/* Reads path (ckpt_read: an sslc checkpoint) and loads every parameter and state tensor of the
 * engine's graph from it (all must be present with the graph's shape and dtype; tensors the
 * graph lacks are refused). plan_crc (optional): the checkpoint must have been written for the
 * plan with this CRC. meta (optional) receives the metadata. */
int ckpt_load(engine *e, const char *path, const uint32_t *plan_crc, ckpt_meta *meta, char *err);

/* Sets the checksum of table t as its metadata's format version defines it (version 1: crc32,
 * else checksum). Public for the checkpoint fuzzer, which re-signs mutated tables so that
 * mutations reach the loading checks behind the checksum. */
int ckpt_resign(st_table *t, char *err);
#endif
