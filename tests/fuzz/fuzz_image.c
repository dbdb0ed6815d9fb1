/* Fuzz entry point: PNG/JPEG decoding (runtime/image.c img_probe + img_decode), as the folder
 * dataset reads every image file. The last input byte picks the requested channels (own, gray or
 * RGB), so every conversion path is reached. A decoded image must have the probed size. */
#include <stdlib.h>

#include "fuzz_target.h"
#include "ir/ir.h"
#include "runtime/image.h"

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
    int w2, h2, c2;
    if (img_decode(data, size, wc, &chw, &w2, &h2, &c2, "fuzz image", err)) {
        fuzz_check_err("image decode", err);
        return 0;
    }
    fuzz_accepted++;
    if (w2 != w || h2 != h || (wc ? c2 != wc : c2 != c))
        fuzz_fail("image: probed %dx%dx%d, decoded %dx%dx%d (asked %d channels)", c, h, w, c2, h2, w2, wc);
    volatile uint8_t sink = 0; /* touch the whole buffer: ASan checks its size */
    for (int64_t i = 0; i < (int64_t)c2 * h2 * w2; i++) sink ^= chw[i];
    (void)sink;
    free(chw);
    return 0;
}
