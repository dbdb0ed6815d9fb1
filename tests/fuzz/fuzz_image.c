/* Fuzz entry point: PNG/JPEG decoding (runtime/image.c img_probe + img_decode_reduced) and the
 * resize + center crop after it (runtime/image_resize.c), as the folder dataset reads every image
 * file. The last input byte picks the requested channels (own, gray or RGB), so every conversion
 * path is reached, and the target size (1..64 x 1..64, so the JPEG decoder's reductions are
 * reached too). A decoded image must have the probed size (or a JPEG's reduction of it). */
#include <stdlib.h>

#include "fuzz_target.h"
#include "ir/ir.h"
#include "runtime/image.h"
#include "runtime/image_resize.h"

/* Larger images are refused later by the folder dataset's size check anyway; decoding a header
 * that announces 2^28 pixels costs a 768 MB allocation per input and would only slow the
 * campaign down (the size limits themselves are checked by img_probe, which always runs). */
#define FUZZ_MAX_PIXELS ((int64_t)1 << 22)

int FUZZ_ENTRY(image)(const uint8_t *data, size_t size) {
    char err[IR_ERRLEN] = "";
    int w, h, c;
    if (img_probe(data, size, &w, &h, &c, "fuzz image", err)) {
        fuzz_check_err("image probe", err);
        return 0;
    }
    if ((int64_t)w * h > FUZZ_MAX_PIXELS) return 0;
    static const int want[3] = {0, 1, 3};
    int wc = size ? want[data[size - 1] % 3] : 0;
    uint8_t *chw = NULL;
    int w2, h2, c2, fw, fh;
    uint8_t last = size ? data[size - 1] : 0;
    int th = 1 + (last * 7) % 64, tw = 1 + (last * 13) % 64;
    if (img_decode_reduced(data, size, wc, th, tw, &chw, &w2, &h2, &fw, &fh, &c2, "fuzz image", err)) {
        fuzz_check_err("image decode", err);
        return 0;
    }
    fuzz_accepted++;
    if (fw != w || fh != h || w2 < 1 || h2 < 1 || w2 > w || h2 > h || (wc ? c2 != wc : c2 != c))
        fuzz_fail("image: probed %dx%dx%d, decoded %dx%dx%d of %dx%d (asked %d channels)", c, h, w, c2, h2, w2, fh, fw, wc);
    volatile uint8_t sink = 0; /* touch the whole buffer: ASan checks its size */
    for (int64_t i = 0; i < (int64_t)c2 * h2 * w2; i++) sink ^= chw[i];
    uint8_t *out = malloc((size_t)c2 * th * tw);
    if (out && img_resize_crop(chw, c2, h2, w2, fh, fw, out, th, tw) == 0)
        for (int64_t i = 0; i < (int64_t)c2 * th * tw; i++) sink ^= out[i];
    free(out);
    (void)sink;
    free(chw);
    return 0;
}
