/* fashion-mnist[:DIR]: IDX files (gzipped as distributed, or plain), read through zlib. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "dataset_impl.h"
#include "fileio.h"

#define IDX_MAX_ITEMS 100000000LL
#define IDX_MAX_BYTES (1LL << 33)

/* opens DIR/NAME.gz or, if absent, DIR/NAME (through sslc_open_input: a FIFO is refused, not
 * waited on); NULL with one line in err */
static gzFile open_idx(const char *dir, const char *name, char *path, size_t np, const char *what, char *err) {
    snprintf(path, np, "%s/%s.gz", dir, name);
    if (access(path, F_OK) != 0) snprintf(path, np, "%s/%s", dir, name);
    if (access(path, F_OK) != 0) {
        snprintf(path, np, "%s/%s.gz", dir, name);
        ds_fail(err, "%s: missing file %s (or %s without .gz)", what, path, name);
        return NULL;
    }
    char e2[IR_ERRLEN];
    int fd = sslc_open_input(path, e2);
    if (fd < 0) {
        ds_fail(err, "%s: %s", what, e2);
        return NULL;
    }
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        close(fd);
        ds_fail(err, "%s: %s: out of memory", what, path);
    }
    return f;
}

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

/* Reads an IDX file of unsigned bytes with `ndim` dimensions: dims[] and the data (malloc'd). */
static int read_idx(const char *dir, const char *name, int ndim, uint32_t *dims, uint8_t **data, const char *what,
                    char *err) {
    char path[4096];
    gzFile f = open_idx(dir, name, path, sizeof path, what, err);
    if (!f) return -1;
    unsigned char hdr[4 + 4 * 3];
    int rc = gz_exact(f, hdr, 4, path, what, err);
    if (!rc && (hdr[0] || hdr[1] || hdr[2] != 0x08 || hdr[3] != ndim))
        rc = ds_fail(err, "%s: %s is not an IDX file of unsigned bytes with %d dimensions (magic %02x %02x %02x %02x)",
                     what, path, ndim, hdr[0], hdr[1], hdr[2], hdr[3]);
    if (!rc) rc = gz_exact(f, hdr + 4, (size_t)(4 * ndim), path, what, err);
    int64_t total = 1;
    for (int k = 0; k < ndim && !rc; k++) {
        dims[k] = be32(hdr + 4 + 4 * k);
        if (dims[k] == 0 || dims[k] > IDX_MAX_ITEMS)
            rc = ds_fail(err, "%s: %s: dimension %d is %u", what, path, k, dims[k]);
        else if (total > IDX_MAX_BYTES / dims[k])
            rc = ds_fail(err, "%s: %s: the header announces more than %lld bytes", what, path, (long long)IDX_MAX_BYTES);
        else
            total *= dims[k];
    }
    *data = NULL;
    if (!rc) {
        *data = malloc((size_t)total);
        if (!*data) rc = ds_fail(err, "%s: out of memory for %lld bytes", what, (long long)total);
    }
    if (!rc) rc = gz_exact(f, *data, (size_t)total, path, what, err);
    if (!rc) { /* nothing may follow */
        unsigned char extra;
        int r = gzread(f, &extra, 1);
        if (r != 0) {
            int e;
            const char *m = gzerror(f, &e);
            rc = r < 0 ? ds_fail(err, "%s: %s: corrupt gzip data (%s)", what, path, m)
                       : ds_fail(err, "%s: %s has data after the %lld bytes its header announces", what, path,
                                 (long long)total);
        }
    }
    gzclose(f);
    if (rc) {
        free(*data);
        *data = NULL;
    }
    return rc;
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
    uint32_t idim[3], ldim[1];
    uint8_t *img = NULL, *lab = NULL;
    if (read_idx(dir, iname, 3, idim, &img, what, err)) return -1;
    if (read_idx(dir, lname, 1, ldim, &lab, what, err)) {
        free(img);
        return -1;
    }
    if (ldim[0] != idim[0]) {
        free(img), free(lab);
        return ds_fail(err, "%s: %u images but %u labels", what, idim[0], ldim[0]);
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
    if (idim[1] > 65536 || idim[2] > 65536) return ds_fail(err, "%s: images of %ux%u are too large", what, idim[1], idim[2]);
    return 0;
}
