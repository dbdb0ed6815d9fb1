/* PNG and JPEG decoding (see image.h). */
#include "image.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "image_resize.h"
#include "ir/ir.h" /* IR_ERRLEN */

#define IMG_MAX_SIDE 65535
#define IMG_MAX_PIXELS ((int64_t)1 << 28)

static int fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, IR_ERRLEN, fmt, ap);
    va_end(ap);
    return -1;
}

static int is_png(const unsigned char *b, size_t n) { return n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8); }
static int is_jpeg(const unsigned char *b, size_t n) { return n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF; }

static int check_size(int w, int h, const char *what, char *err) {
    if (w < 1 || h < 1 || w > IMG_MAX_SIDE || h > IMG_MAX_SIDE || (int64_t)w * h > IMG_MAX_PIXELS)
        return fail(err, "%s: image size %dx%d (HxW) is not supported", what, h, w);
    return 0;
}

/* HWC with sc channels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) -> CHW with dc (1 or 3) channels */
static void to_chw(const uint8_t *src, int sc, uint8_t *dst, int dc, int64_t hw) {
    int color = sc >= 3;
    for (int64_t p = 0; p < hw; p++) {
        const uint8_t *s = src + p * sc;
        if (dc == 1)
            dst[p] = color ? (uint8_t)(((uint32_t)s[0] * 19595u + (uint32_t)s[1] * 38470u + (uint32_t)s[2] * 7471u + 0x8000u) >> 16)
                           : s[0];
        else
            for (int k = 0; k < 3; k++) dst[k * hw + p] = color ? s[k] : s[0];
    }
}

/* ---- PNG ---- */

static int png_probe(const unsigned char *b, size_t n, int *w, int *h, int *c, const char *what, char *err) {
    if (n < 33 || memcmp(b + 12, "IHDR", 4)) return fail(err, "%s: corrupt PNG (no IHDR chunk)", what);
    uint32_t W = (uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 | (uint32_t)b[18] << 8 | b[19];
    uint32_t H = (uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 | (uint32_t)b[22] << 8 | b[23];
    int ct = b[25];
    if (ct != 0 && ct != 2 && ct != 3 && ct != 4 && ct != 6) return fail(err, "%s: corrupt PNG (colour type %d)", what, ct);
    if (W > IMG_MAX_SIDE || H > IMG_MAX_SIDE) return fail(err, "%s: image size %ux%u (HxW) is not supported", what, H, W);
    *w = (int)W, *h = (int)H;
    *c = (ct == 0 || ct == 4) ? 1 : 3;
    return check_size(*w, *h, what, err);
}

/* libpng's warnings about the image data (extra or missing compressed data, a damaged stream)
 * are errors: the pixels may be wrong. Warnings about an ancillary chunk, "iCCP: known incorrect
 * sRGB profile" and the like, start with the chunk's name (lower-case first letter, as the PNG
 * specification names ancillary chunks) and leave the pixels intact. */
static int ancillary_warning(const char *m) {
    return m[0] >= 'a' && m[0] <= 'z' && m[1] && m[2] && m[3] && m[4] == ':';
}

static int png_decode(const unsigned char *buf, size_t len, int want_c, uint8_t **chw, int *w, int *h, int *c,
                      const char *what, char *err) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&im, buf, len)) {
        fail(err, "%s: cannot decode PNG: %s", what, im.message);
        png_image_free(&im);
        return -1;
    }
    /* 16-bit samples are scaled to 8 bits (v * 255 / 65535, rounded); without the flag the
     * simplified API would take them as linear light and gamma-encode them to sRGB */
    im.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
    int color = (im.format & PNG_FORMAT_FLAG_COLOR) != 0, alpha = (im.format & PNG_FORMAT_FLAG_ALPHA) != 0;
    int sc = (color ? 3 : 1) + alpha;
    im.format = color ? (alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB) : (alpha ? PNG_FORMAT_GA : PNG_FORMAT_GRAY);
    if (check_size((int)im.width, (int)im.height, what, err)) {
        png_image_free(&im);
        return -1;
    }
    int64_t hw = (int64_t)im.width * im.height;
    uint8_t *pix = malloc((size_t)(hw * sc));
    if (!pix) {
        png_image_free(&im);
        return fail(err, "%s: out of memory", what);
    }
    if (!png_image_finish_read(&im, NULL, pix, 0, NULL)) {
        fail(err, "%s: cannot decode PNG: %s", what, im.message);
        free(pix);
        png_image_free(&im);
        return -1;
    }
    if ((im.warning_or_error & PNG_IMAGE_WARNING) && !ancillary_warning(im.message)) {
        fail(err, "%s: cannot decode PNG: %s", what, im.message);
        free(pix);
        png_image_free(&im);
        return -1;
    }
    *w = (int)im.width, *h = (int)im.height, *c = want_c ? want_c : (color ? 3 : 1);
    *chw = malloc((size_t)(hw * *c));
    if (!*chw) {
        free(pix);
        return fail(err, "%s: out of memory", what);
    }
    to_chw(pix, sc, *chw, *c, hw);
    free(pix);
    return 0;
}

/* ---- JPEG ---- */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_on_error(j_common_ptr ci) {
    jpeg_err *e = (jpeg_err *)ci->err;
    (*ci->err->format_message)(ci, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings about the pixel data are errors: libjpeg would pad a truncated file with gray and
 * decode corrupt entropy-coded data into garbage, and a dataset must not train on either. Only
 * warnings about metadata (JFIF revision, Adobe transform code, ICC profile) leave the pixels
 * intact and are ignored. */
static void jpeg_on_message(j_common_ptr ci, int level) {
    if (level >= 0) return; /* trace messages */
    int code = ci->err->msg_code;
    if (code == JWRN_JFIF_MAJOR || code == JWRN_ADOBE_XFORM || code == JWRN_BOGUS_ICC) return;
    jpeg_err *e = (jpeg_err *)ci->err;
    if (code == JWRN_JPEG_EOF)
        snprintf(e->msg, sizeof e->msg, "premature end of data (truncated file)");
    else
        (*ci->err->format_message)(ci, e->msg);
    longjmp(e->jb, 1);
}

static void jpeg_silent(j_common_ptr ci) { (void)ci; }

/* the largest libjpeg-turbo scaled-IDCT reduction 1/d (d = 1, 2, 4, 8) that keeps the decoded
 * image at least four times the size it is resized to (before the crop to min_h x min_w):
 * decoding fewer pixels pays, and the resize after it still averages over four or more decoded
 * pixels, which keeps the difference from a full decode small (README "Your own images") */
static int jpeg_denom(int w, int h, int min_h, int min_w) {
    int d = 1, rh, rw;
    if (min_h <= 0 || min_w <= 0) return 1;
    img_cover_size(h, w, min_h, min_w, &rh, &rw);
    while (d < 8 && (w + 2 * d - 1) / (2 * d) >= 4 * rw && (h + 2 * d - 1) / (2 * d) >= 4 * rh) d *= 2;
    return d;
}

static int jpeg_run(const unsigned char *buf, size_t len, int want_c, int probe_only, int min_h, int min_w, uint8_t **chw,
                    int *w, int *h, int *dw, int *dh, int *c, const char *what, char *err) {
    struct jpeg_decompress_struct ci;
    jpeg_err je;
    uint8_t *volatile pix = NULL;
    memset(&ci, 0, sizeof ci);
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jpeg_on_error;
    je.pub.emit_message = jpeg_on_message;
    je.pub.output_message = jpeg_silent;
    je.msg[0] = 0;
    if (setjmp(je.jb)) {
        jpeg_destroy_decompress(&ci);
        free(pix);
        return fail(err, "%s: cannot decode JPEG: %s", what, je.msg);
    }
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, buf, (unsigned long)len);
    jpeg_read_header(&ci, TRUE);
    int nc;
    if (ci.num_components == 1) {
        ci.out_color_space = JCS_GRAYSCALE;
        nc = 1;
    } else if (ci.jpeg_color_space == JCS_CMYK || ci.jpeg_color_space == JCS_YCCK || ci.num_components != 3) {
        jpeg_destroy_decompress(&ci);
        return fail(err, "%s: JPEG with %d colour components (CMYK?) is not supported", what, ci.num_components);
    } else {
        ci.out_color_space = JCS_RGB;
        nc = 3;
    }
    if (check_size((int)ci.image_width, (int)ci.image_height, what, err)) {
        jpeg_destroy_decompress(&ci);
        return -1;
    }
    *w = (int)ci.image_width, *h = (int)ci.image_height;
    if (probe_only) {
        *c = nc;
        jpeg_destroy_decompress(&ci);
        return 0;
    }
    ci.scale_num = 1;
    ci.scale_denom = (unsigned)jpeg_denom(*w, *h, min_h, min_w);
    jpeg_start_decompress(&ci);
    *dw = (int)ci.output_width, *dh = (int)ci.output_height;
    int64_t hw = (int64_t)ci.output_width * ci.output_height, stride = (int64_t)ci.output_width * nc;
    pix = malloc((size_t)(hw * nc));
    if (!pix) {
        jpeg_destroy_decompress(&ci);
        return fail(err, "%s: out of memory", what);
    }
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW row = pix + (int64_t)ci.output_scanline * stride;
        jpeg_read_scanlines(&ci, &row, 1);
    }
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    *c = want_c ? want_c : nc;
    *chw = malloc((size_t)(hw * *c));
    if (!*chw) {
        free(pix);
        return fail(err, "%s: out of memory", what);
    }
    to_chw(pix, nc, *chw, *c, hw);
    free(pix);
    return 0;
}

/* ---- entry points ---- */

int img_probe(const unsigned char *buf, size_t len, int *w, int *h, int *c, const char *what, char *err) {
    if (is_png(buf, len)) return png_probe(buf, len, w, h, c, what, err);
    int dw, dh;
    if (is_jpeg(buf, len)) return jpeg_run(buf, len, 0, 1, 0, 0, NULL, w, h, &dw, &dh, c, what, err);
    return fail(err, "%s: not a PNG or JPEG file", what);
}

int img_decode(const unsigned char *buf, size_t len, int want_c, uint8_t **chw, int *w, int *h, int *c,
               const char *what, char *err) {
    int fw, fh;
    return img_decode_reduced(buf, len, want_c, 0, 0, chw, w, h, &fw, &fh, c, what, err);
}

int img_decode_reduced(const unsigned char *buf, size_t len, int want_c, int min_h, int min_w, uint8_t **chw, int *w,
                       int *h, int *full_w, int *full_h, int *c, const char *what, char *err) {
    *chw = NULL;
    if (want_c != 0 && want_c != 1 && want_c != 3) return fail(err, "%s: cannot convert to %d channels", what, want_c);
    if (is_png(buf, len)) {
        if (png_decode(buf, len, want_c, chw, w, h, c, what, err)) return -1;
        *full_w = *w, *full_h = *h;
        return 0;
    }
    if (is_jpeg(buf, len)) return jpeg_run(buf, len, want_c, 0, min_h, min_w, chw, full_w, full_h, w, h, c, what, err);
    return fail(err, "%s: not a PNG or JPEG file", what);
}

static uint8_t *chw_to_hwc(const uint8_t *chw, int w, int h, int c) {
    int64_t hw = (int64_t)w * h;
    uint8_t *p = malloc((size_t)(hw * c) + 1);
    if (p)
        for (int64_t i = 0; i < hw; i++)
            for (int k = 0; k < c; k++) p[i * c + k] = chw[k * hw + i];
    return p;
}

int img_encode_png(const uint8_t *chw, int w, int h, int c, unsigned char **out, size_t *len, char *err) {
    *out = NULL;
    if ((c != 1 && c != 3) || check_size(w, h, "png", err)) return fail(err, "png: cannot encode %dx%dx%d", c, h, w);
    uint8_t *pix = chw_to_hwc(chw, w, h, c);
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w, im.height = (png_uint_32)h;
    im.format = c == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    png_alloc_size_t n = 0;
    int ok = pix && png_image_write_to_memory(&im, NULL, &n, 0, pix, 0, NULL);
    if (ok) {
        *out = malloc(n);
        ok = *out && png_image_write_to_memory(&im, *out, &n, 0, pix, 0, NULL);
    }
    free(pix);
    if (!ok) {
        free(*out);
        *out = NULL;
        return fail(err, "png: encoding failed: %s", im.message);
    }
    *len = n;
    return 0;
}

int img_encode_jpeg(const uint8_t *chw, int w, int h, int c, int quality, unsigned char **out, size_t *len, char *err) {
    *out = NULL;
    if ((c != 1 && c != 3) || check_size(w, h, "jpeg", err)) return fail(err, "jpeg: cannot encode %dx%dx%d", c, h, w);
    uint8_t *volatile pix = chw_to_hwc(chw, w, h, c);
    if (!pix) return fail(err, "jpeg: out of memory");
    struct jpeg_compress_struct ci;
    jpeg_err je;
    unsigned char *volatile mem = NULL;
    unsigned long n = 0;
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jpeg_on_error;
    je.pub.output_message = jpeg_silent;
    if (setjmp(je.jb)) {
        jpeg_destroy_compress(&ci);
        free(pix);
        free(mem);
        return fail(err, "jpeg: encoding failed: %s", je.msg);
    }
    jpeg_create_compress(&ci);
    unsigned char *m = NULL;
    jpeg_mem_dest(&ci, &m, &n);
    ci.image_width = (JDIMENSION)w, ci.image_height = (JDIMENSION)h;
    ci.input_components = c;
    ci.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, quality, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = pix + (int64_t)ci.next_scanline * w * c;
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    mem = m;
    jpeg_destroy_compress(&ci);
    free(pix);
    *out = mem;
    *len = n;
    return 0;
}
