/* fashion-mnist[:DIR]: IDX files (gzipped as distributed, or plain), read through zlib. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "dataset_impl.h"
#include "fileio.h"

#define IDX_MAX_ITEMS 100000000LL
#define IDX_MAX_BYTES (1LL << 33)

/* One IDX file, its header read and checked against the file before any data is inflated. */
typedef struct {
    gzFile f;
    char path[4096];
    uint32_t dims[3];
    int64_t total; /* data bytes the header announces */
} idx_file;

/* reads exactly n bytes; -1 with a message naming truncation or corruption */
static int gz_exact(gzFile f, void *dst, size_t n, const char *path, const char *what, char *err) {
    size_t got = 0;
    while (got < n) {
        unsigned chunk = (unsigned)((n - got) > (1u << 30) ? (1u << 30) : (n - got));
        int r = gzread(f, (unsigned char *)dst + got, chunk);
        if (r < 0) {
            int e;
            const char *m = gzerror(f, &e);
            return ds_fail(err, "%s: %s: corrupt gzip data (%s)", what, path, m);
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    if (got < n) {
        int e;
        const char *m = gzerror(f, &e);
        if (e != Z_OK && e != Z_BUF_ERROR) return ds_fail(err, "%s: %s: corrupt gzip data (%s)", what, path, m);
        return ds_fail(err, "%s: %s is truncated (%zu of %zu bytes)", what, path, got, n);
    }
    return 0;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int pread_exact(int fd, void *dst, size_t n, off_t off) {
    return pread(fd, dst, n, off) == (ssize_t)n ? 0 : -1;
}

/* The announced size must fit the file before anything is inflated: a plain file is exactly the
 * header plus the data; a gzip file's trailer records the inflated size (mod 2^32; the last
 * member's, and the distributed files have one), and deflate inflates at most 1032-fold, so a
 * small file announcing gigabytes (a bomb, or a damaged header) is refused at once. */
static int check_size(const idx_file *x, int fd, int64_t hdr, const char *what, char *err) {
    struct stat st;
    unsigned char b[4] = {0};
    if (fstat(fd, &st) != 0) return ds_fail(err, "%s: %s: cannot stat: %s", what, x->path, strerror(errno));
    int64_t size = (int64_t)st.st_size, want = hdr + x->total;
    int gz = size >= 2 && pread_exact(fd, b, 2, 0) == 0 && b[0] == 0x1f && b[1] == 0x8b;
    if (!gz) {
        if (size < want) return ds_fail(err, "%s: %s is truncated (%lld of %lld bytes)", what, x->path, (long long)size, (long long)want);
        if (size > want)
            return ds_fail(err, "%s: %s has data after the %lld bytes its header announces", what, x->path, (long long)x->total);
        return 0;
    }
    if (want / 1032 > size)
        return ds_fail(err, "%s: %s: the header announces %lld bytes, more than a gzip file of %lld bytes can inflate to "
                            "(truncated file, corrupt header, or a decompression bomb)",
                       what, x->path, (long long)want, (long long)size);
    if (size < 18 || pread_exact(fd, b, 4, (off_t)(size - 4)) != 0)
        return ds_fail(err, "%s: %s is truncated (no gzip trailer)", what, x->path);
    uint32_t isize = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    if (isize != (uint32_t)want)
        return ds_fail(err, "%s: %s: its gzip trailer records %u bytes, the IDX header announces %lld (truncated file, "
                            "data after the announced bytes, or a damaged trailer)",
                       what, x->path, isize, (long long)want);
    return 0;
}

/* Opens DIR/NAME.gz or, if absent, DIR/NAME (through sslc_open_input: a FIFO is refused, not
 * waited on) and reads its header: an IDX file of unsigned bytes with `ndim` dimensions. */
static int idx_open(idx_file *x, const char *dir, const char *name, int ndim, const char *what, char *err) {
    x->f = NULL;
    snprintf(x->path, sizeof x->path, "%s/%s.gz", dir, name);
    if (access(x->path, F_OK) != 0) snprintf(x->path, sizeof x->path, "%s/%s", dir, name);
    if (access(x->path, F_OK) != 0) {
        snprintf(x->path, sizeof x->path, "%s/%s.gz", dir, name);
        return ds_fail(err, "%s: missing file %s (or %s without .gz)", what, x->path, name);
    }
    char e2[IR_ERRLEN];
    int fd = sslc_open_input(x->path, e2);
    if (fd < 0) return ds_fail(err, "%s: %s", what, e2);
    int dupfd = dup(fd); /* the size checks need a descriptor gzclose does not own */
    x->f = gzdopen(fd, "rb");
    if (!x->f || dupfd < 0) {
        if (!x->f) close(fd);
        if (dupfd >= 0) close(dupfd);
        return ds_fail(err, "%s: %s: out of memory", what, x->path);
    }
    const char *path = x->path;
    unsigned char hdr[4 + 4 * 3];
    int rc = gz_exact(x->f, hdr, 4, path, what, err);
    if (!rc && (hdr[0] || hdr[1] || hdr[2] != 0x08 || hdr[3] != ndim))
        rc = ds_fail(err, "%s: %s is not an IDX file of unsigned bytes with %d dimensions (magic %02x %02x %02x %02x)",
                     what, path, ndim, hdr[0], hdr[1], hdr[2], hdr[3]);
    if (!rc) rc = gz_exact(x->f, hdr + 4, (size_t)(4 * ndim), path, what, err);
    int64_t total = 1;
    for (int k = 0; k < ndim && !rc; k++) {
        x->dims[k] = be32(hdr + 4 + 4 * k);
        if (x->dims[k] == 0 || x->dims[k] > IDX_MAX_ITEMS)
            rc = ds_fail(err, "%s: %s: dimension %d is %u", what, path, k, x->dims[k]);
        else if (total > IDX_MAX_BYTES / x->dims[k])
            rc = ds_fail(err, "%s: %s: the header announces more than %lld bytes", what, path, (long long)IDX_MAX_BYTES);
        else
            total *= x->dims[k];
    }
    x->total = total;
    if (!rc) rc = check_size(x, dupfd, 4 + 4 * ndim, what, err);
    close(dupfd);
    if (rc) {
        gzclose(x->f);
        x->f = NULL;
    }
    return rc;
}

/* the data (malloc'd), then nothing more: no extra bytes, and the gzip trailer present and its
 * CRC right (zlib checks the CRC; a stream cut before its trailer reads as Z_BUF_ERROR) */
static int idx_read(idx_file *x, uint8_t **data, const char *what, char *err) {
    const char *path = x->path;
    *data = malloc((size_t)x->total);
    if (!*data) return ds_fail(err, "%s: out of memory for %lld bytes", what, (long long)x->total);
    int rc = gz_exact(x->f, *data, (size_t)x->total, path, what, err);
    if (!rc) {
        unsigned char extra;
        int r = gzread(x->f, &extra, 1), e;
        const char *m = gzerror(x->f, &e);
        if (r < 0)
            rc = ds_fail(err, "%s: %s: corrupt gzip data (%s)", what, path, m);
        else if (r > 0)
            rc = ds_fail(err, "%s: %s has data after the %lld bytes its header announces", what, path,
                         (long long)x->total);
        else if (e == Z_BUF_ERROR)
            rc = ds_fail(err, "%s: %s is truncated (the gzip stream ends before its trailer)", what, path);
    }
    if (rc) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

static void idx_close(idx_file *x) {
    if (x->f) gzclose(x->f);
    x->f = NULL;
}

int ds_open_idx(sslc_dataset *ds, const char *dir, ds_split split, char *err) {
    snprintf(ds->info.what, sizeof ds->info.what, "fashion-mnist %s", ds_split_name(split));
    const char *what = ds->info.what;
    if (!ds_is_dir(dir)) {
        if (!strcmp(dir, DS_DEFAULT_FMNIST_DIR))
            return ds_fail(err, "%s: %s does not exist (install Debian's dataset-fashion-mnist, or give fashion-mnist:DIR)",
                           what, dir);
        return ds_check_dir(dir, what, err);
    }
    const char *pre = split == DS_TEST ? "t10k" : "train";
    char iname[64], lname[64];
    snprintf(iname, sizeof iname, "%s-images-idx3-ubyte", pre);
    snprintf(lname, sizeof lname, "%s-labels-idx1-ubyte", pre);
    /* both headers, and the shapes they announce, before any data is inflated */
    idx_file fi, fl;
    uint8_t *img = NULL, *lab = NULL;
    if (idx_open(&fi, dir, iname, 3, what, err)) return -1;
    if (idx_open(&fl, dir, lname, 1, what, err)) {
        idx_close(&fi);
        return -1;
    }
    const uint32_t *idim = fi.dims, *ldim = fl.dims;
    int rc = 0;
    if (ldim[0] != idim[0])
        rc = ds_fail(err, "%s: %u images but %u labels", what, idim[0], ldim[0]);
    else if (idim[1] > 65536 || idim[2] > 65536)
        rc = ds_fail(err, "%s: images of %ux%u are too large", what, idim[1], idim[2]);
    if (!rc) rc = idx_read(&fl, &lab, what, err);
    if (!rc) rc = idx_read(&fi, &img, what, err);
    idx_close(&fi), idx_close(&fl);
    if (rc) {
        free(img), free(lab);
        return -1;
    }
    ds->labels = malloc((size_t)idim[0] * sizeof *ds->labels);
    if (!ds->labels) {
        free(img), free(lab);
        return ds_fail(err, "%s: out of memory", what);
    }
    for (uint32_t i = 0; i < idim[0]; i++) {
        if (lab[i] > 9) {
            ds_fail(err, "%s: label %u of sample %u is not a class 0..9", what, lab[i], i);
            free(img), free(lab);
            return -1;
        }
        ds->labels[i] = lab[i];
    }
    free(lab);
    ds->mem = img;
    ds->info.n = idim[0];
    ds->info.c = 1;
    ds->info.h = (int)idim[1];
    ds->info.w = (int)idim[2];
    ds->info.num_classes = 10;
    ds->info.has_labels = 1;
    /* the dataset's own names (Zalando's README), in label order */
    static const char *const names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    ds->fixed_class_names = names;
    return 0;
}
