/* Training checkpoints: every parameter and state tensor of a train graph (BatchNorm running
 * statistics, optimizer slots "opt.<slot>.<param>", method state such as queues and counters) in
 * a safetensors file under the graph's value names (ResNet parameters carry torchvision's names,
 * so `load_state_dict` of the backbone.* tensors works), plus where the run stood:
 *
 *   __metadata__: format "sslc-checkpoint", version "1", step (optimizer steps done), total (the
 *                 run's planned steps), seed, data (dataset spec), plan_crc32 (of the plan file's
 *                 payload, so a checkpoint is not resumed on another plan), crc32 (of every tensor's
 *                 bytes, in name order: safetensors itself has no checksum)
 *
 * Writes are atomic (runtime/fileio.h): a crash leaves the previous checkpoint. Reads refuse,
 * with one line in err, a file that is not an sslc checkpoint, fails its checksum, or lacks or
 * mis-shapes a tensor the graph needs. */
#ifndef SSLC_CHECKPOINT_H
#define SSLC_CHECKPOINT_H
#include <stdint.h>

#include "engine.h"
#include "safetensors.h"

#define CKPT_FORMAT "sslc-checkpoint"
#define CKPT_VERSION "1"
#define CKPT_DATA_LEN 1024

typedef struct {
    int64_t step;  /* optimizer steps done */
    int64_t total; /* steps the run was planned for (its schedules span them) */
    uint64_t seed; /* data order and augmentation seed */
    uint32_t plan_crc32;
    char data[CKPT_DATA_LEN]; /* dataset spec */
} ckpt_meta;

/* Writes every VK_PARAM and VK_STATE value of engine_graph(e) and meta to path atomically. */
int ckpt_save(const engine *e, const ckpt_meta *meta, const char *path, char *err);

/* Reads path, checks it, and loads every parameter and state tensor of the engine's graph from
 * it (all must be present with the graph's shape and dtype; tensors the graph lacks are refused).
 * plan_crc (optional): the checkpoint must have been written for the plan with this CRC. meta
 * (optional) receives the metadata. */
int ckpt_load(engine *e, const char *path, const uint32_t *plan_crc, ckpt_meta *meta, char *err);

/* The checksum stored as __metadata__ crc32: CRC32 over (name, dtype, bytes) of every tensor in
 * name order, independent of the file layout. Public for the checkpoint fuzzer, which re-signs
 * mutated tables so that mutations reach the loading checks behind the checksum. */
int ckpt_table_crc(const st_table *t, uint32_t *out, char *err);
#endif
