/* Datasets: a spec string and a split give uint8 images of one fixed shape, with labels.
 *
 *   fashion-mnist[:DIR]  gzipped (or plain) IDX files train-images-idx3-ubyte.gz, ... as Zalando
 *                        ships them; DIR defaults to /usr/share/datasets/fashion-mnist (Debian's
 *                        dataset-fashion-mnist). 60000 train / 10000 test, 1x28x28, 10 classes.
 *   cifar10:DIR          the binary version: data_batch_1.bin .. data_batch_5.bin (train) and
 *                        test_batch.bin (test), in DIR or DIR/cifar-10-batches-bin. 3x32x32.
 *   folder:DIR           PNG and JPEG images of any sizes and modes (gray, gray+alpha, RGB, RGBA,
 *                        palette, 16-bit; alpha is dropped as PIL's convert("RGB")), found
 *                        recursively (sorted; entries starting with '.' are skipped). When DIR
 *                        holds only sub-folders, each is a class (sorted by name, as torchvision's
 *                        ImageFolder); when it holds images itself, nothing is labelled. Splits:
 *                        DIR/train and DIR/test (or DIR/val) when both exist; otherwise
 *                        FOLDER_HELD_OUT_PERCENT of the images of DIR/train or DIR (at least one,
 *                        those whose paths hash lowest: the same split for every run and command)
 *                        are the test split and the rest the train split; info.note says so.
 *                        Every image is decoded and resized once at open into memory
 *                        (n x C x H x W bytes) to ds_options' height x width (default: the
 *                        images' own size, when they all have one): the shorter side scaled, then
 *                        a center crop, as torchvision's Resize + CenterCrop on a PIL image
 *                        (runtime/image_resize.h); large JPEGs are decoded reduced by
 *                        libjpeg-turbo's scaled IDCT. Channels: ds_options.channels, or 1 when
 *                        every image is grayscale, else 3; RGB -> gray is PIL's L =
 *                        (19595 R + 38470 G + 7471 B) >> 16.
 *   fake:N[:CxHxW]       N deterministic random images per split (default 3x32x32, or the
 *                        ds_options size), 10 classes; each class has its own smooth pattern
 *                        under the noise, so they are learnable. Seeded by ds_options.seed.
 *
 * Every dataset keeps its images' native channels and converts on read when ds_options asks for
 * another count (1 <-> 3). Every format loads at open. ds_read is safe to call from several threads at once. Every bad input (missing
 * directory or file, truncated or corrupt IDX / gzip / batch, an image that fails to decode, a
 * folder without images, images of several sizes and no size asked for) ends in one line in err, never a crash. */
#ifndef SSLC_DATASET_H
#define SSLC_DATASET_H
#include <stdint.h>

#define DS_DEFAULT_FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#define FOLDER_HELD_OUT_PERCENT 10

typedef enum { DS_TRAIN, DS_TEST } ds_split;
typedef enum { DS_CHW, DS_HWC } ds_layout;

typedef struct {
    int64_t n;       /* samples in the split */
    int c, h, w;     /* image shape as read (after channel conversion) */
    int num_classes; /* 0 when there are no labels */
    int has_labels;
    char what[96];   /* e.g. "fashion-mnist train", for messages */
    char note[256];  /* what a user should know about the split ("": nothing), e.g. a held-out part */
} ds_info;

typedef struct {
    int channels;      /* 0: as stored; 1 or 3: convert */
    int height, width; /* folder: the size images are resized to (0: their own); fake: image size */
    uint64_t seed;     /* fake: generator seed */
    int shape_only;    /* folder: list and read headers only (info, paths); ds_read then fails */
    int quiet;         /* folder: no progress line while decoding */
    /* folder: decode only some samples: select(n, idx, ctx) gets the split's size n and writes
     * the sample indices to keep, increasing, into idx[0..n), returning how many (>= 1); the
     * dataset then holds those samples only, in that order (NULL: all; other formats: ignored) */
    int64_t (*select)(int64_t n, int64_t *idx, void *ctx);
    void *select_ctx;
} ds_options;

typedef struct sslc_dataset sslc_dataset;

/* Opens `spec` (see above) for a split; opt may be NULL (defaults). Returns 0 or -1 with err. */
int ds_open(sslc_dataset **out, const char *spec, ds_split split, const ds_options *opt, char *err);
const ds_info *ds_get_info(const sslc_dataset *ds);
/* Sample i into img (c*h*w bytes, CHW or HWC) and *label (-1 without labels; label may be
 * NULL). Thread-safe. Returns 0 or -1 with err (an image that fails to decode). */
int ds_read(const sslc_dataset *ds, int64_t i, uint8_t *img, ds_layout layout, int32_t *label, char *err);
void ds_close(sslc_dataset *ds);
/* The file of sample i (folder: data; NULL for the others) and the name of class k (NULL when
 * the dataset has no names: folder: names its class sub-folders, fashion-mnist and cifar10 their
 * published class names, fake: none). */
const char *ds_path(const sslc_dataset *ds, int64_t i);
const char *ds_class_name(const sslc_dataset *ds, int k);
const char *ds_split_name(ds_split s);

/* PIL's RGB -> L */
static inline uint8_t ds_luma(uint8_t r, uint8_t g, uint8_t b) {
    return (uint8_t)(((uint32_t)r * 19595u + (uint32_t)g * 38470u + (uint32_t)b * 7471u + 0x8000u) >> 16);
}

#endif
