/* sslc C API: compile an SSL method into a plan file and train with it from your own program.
 * Every function returns 0 on success or non-zero with one line in err (errlen bytes). */
#ifndef SSLC_H
#define SSLC_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

const char *sslc_version(void);

/* Compiles like `sslc compile`: argv holds the method and the same options as the command line
 * (e.g. {"simclr", "--backbone", "resnet18", "--batch", "64"}); the plan goes to out_path. */
int sslc_compile(int argc, const char *const *argv, const char *out_path, char *err, size_t errlen);

typedef struct sslc_session sslc_session;

/* Opens a plan on a device ("cpu": fused JIT kernels, "ref": the reference interpreter) with
 * parameters initialized from the plan's seed. */
sslc_session *sslc_open(const char *plan_path, const char *device, char *err, size_t errlen);
void sslc_close(sslc_session *s);
/* Element count of a named value (input, parameter, state, loss, grad.<param>), -1 if none. */
int64_t sslc_numel(const sslc_session *s, const char *name);
/* Copies float32 data into / out of a named value (n must equal its element count). */
int sslc_set(sslc_session *s, const char *name, const float *data, int64_t n, char *err, size_t errlen);
/* Copies uint8 data into a named value: the `images` input (u8 [B,C,H,W]) of plans compiled
 * with augmentation (the default). */
int sslc_set_u8(sslc_session *s, const char *name, const uint8_t *data, int64_t n, char *err, size_t errlen);
int sslc_get(const sslc_session *s, const char *name, float *data, int64_t n, char *err, size_t errlen);
/* One training step on the inputs set (images, or views.* with --augment none; labels): feeds
 * the optimizer scalars for step number `step` (1-based) at the plan's learning rate and, with
 * augmentation, the step's random augmentation parameters (aug.*, drawn from the plan's seed and
 * the step), runs, applies updates; *loss receives the step's loss. */
int sslc_step(sslc_session *s, int64_t step, float *loss, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
