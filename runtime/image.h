/* PNG (libpng) and JPEG (libjpeg) decoding from memory, chosen by the file's signature. */
#ifndef SSLC_IMAGE_H
#define SSLC_IMAGE_H
#include <stddef.h>
#include <stdint.h>

/* Size and channels (1 = grayscale, 3 = colour; alpha is not counted) from the header.
 * `what` names the image in messages. 0 or -1 with one line in err. */
int img_probe(const unsigned char *buf, size_t len, int *w, int *h, int *c, const char *what, char *err);
/* Decodes into a malloc'd 8-bit image of `want_c` channels (1 or 3; 0 = its own) laid out CHW;
 * grayscale -> RGB replicates, RGB -> gray uses PIL's L, alpha is dropped. Warnings of the
 * decoders (truncated data, bad checksums) are errors. */
int img_decode(const unsigned char *buf, size_t len, int want_c, uint8_t **chw, int *w, int *h, int *c,
               const char *what, char *err);
/* img_decode, but a JPEG much larger than min_h x min_w (both > 0) is decoded reduced by
 * libjpeg-turbo's scaled IDCT (1/2, 1/4, 1/8) to no less than twice that size: w x h is what was
 * decoded, full_w x full_h the image's own size. PNG decodes at full size. 16-bit PNG samples are
 * scaled to 8 bits. */
int img_decode_reduced(const unsigned char *buf, size_t len, int want_c, int min_h, int min_w, uint8_t **chw, int *w,
                       int *h, int *full_w, int *full_h, int *c, const char *what, char *err);
/* Encoders, for tests and tools: 8-bit CHW of 1 or 3 channels to a malloc'd file image. */
int img_encode_png(const uint8_t *chw, int w, int h, int c, unsigned char **out, size_t *len, char *err);
int img_encode_jpeg(const uint8_t *chw, int w, int h, int c, int quality, unsigned char **out, size_t *len, char *err);

#endif
