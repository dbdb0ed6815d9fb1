/* Resize to cover a target size, then center-crop: torchvision's Resize(S) + CenterCrop(S) on a
 * PIL image (for a square target S x S), reproduced bit for bit on 8-bit images. The resampling
 * is PIL's bilinear filter with antialiasing (Resample.c): the triangle filter widened by the
 * downscale factor, 22-bit fixed-point coefficients, a horizontal then a vertical pass with the
 * intermediate rounded to 8 bits. Only the output pixels inside the crop are computed; each is
 * computed as PIL computes it, so the result equals resizing the whole image and cropping. */
#ifndef SSLC_IMAGE_RESIZE_H
#define SSLC_IMAGE_RESIZE_H
#include <stdint.h>

/* The size an h x w image is resized to before the crop to th x tw: scaled by the larger of th/h
 * and tw/w, the other side truncated as torchvision's Resize(int) does (int(S * long / short)). */
void img_cover_size(int h, int w, int th, int tw, int *rh, int *rw);

/* src: CHW, c channels, sh x sw (the decoded image, possibly already reduced by the JPEG
 * decoder's scaled IDCT from its full size h0 x w0, which decides the resized size). dst: CHW
 * th x tw. Returns 0, or -1 when out of memory. */
int img_resize_crop(const uint8_t *src, int c, int sh, int sw, int h0, int w0, uint8_t *dst, int th, int tw);

#endif
