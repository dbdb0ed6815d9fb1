/* frontend/suggest.c: the nearest-name rule behind every "did you mean" (issue 14 item 5). */
#include <stdio.h>
#include <string.h>

#include "../frontend/suggest.h"

static int fails = 0;

static void expect(const char *word, const char *list, const char *want) {
    char buf[64];
    const char *got = suggest_from_list(word, list, buf, sizeof buf);
    if ((want == NULL) != (got == NULL) || (want && strcmp(want, got))) {
        printf("FAIL '%s' in [%s]: got %s, want %s\n", word, list, got ? got : "none", want ? want : "none");
        fails++;
    } else
        printf("ok   '%s' -> %s\n", word, got ? got : "none");
}

int main(void) {
    const char *methods = "barlow_twins, byol, dino, moco, mocov2, mocov3, simclr, simclrv2, simsiam, supcon, swav";
    expect("temprature", "projection_dim, temperature", "temperature"); /* a deletion */
    expect("simcrl", methods, "simclr");                                /* an adjacent swap */
    expect("BYOL", methods, "byol");                                    /* case */
    expect("bayol", methods, "byol");                                   /* an insertion */
    expect("barlow", methods, "barlow_twins");                          /* a unique prefix */
    expect("mo", methods, NULL);                                        /* a prefix of several */
    expect("zzzzzz", methods, NULL);                                    /* nothing near */
    expect("x", "lr, seed", NULL);                                      /* one letter is no evidence */
    expect("epoch", "data, epochs, steps", "epochs");
    expect("resnt18", "resnet18, resnet34, resnet50, convnet, vit-tiny, vit-small", "resnet18");
    expect("vit-tinny", "resnet18, resnet34, resnet50, convnet, vit-tiny, vit-small", "vit-tiny");
    expect("optimiser", "optimizer, lr, momentum", "optimizer");
    expect("learning-rate", "optimizer, lr, momentum", NULL); /* too far: the list is shown instead */
    char hint[96];
    if (strcmp(suggest_hint("trian", "methods, train, run", hint, sizeof hint), "did you mean 'train'? ") ||
        strcmp(suggest_hint("qqq", "methods, train, run", hint, sizeof hint), ""))
        printf("FAIL suggest_hint: '%s'\n", hint), fails++;
    else
        printf("ok   suggest_hint\n");
    /* words longer than the table are not compared (and do not overflow it) */
    char longw[200];
    memset(longw, 'a', sizeof longw - 1);
    longw[sizeof longw - 1] = 0;
    expect(longw, methods, NULL);
    printf("%s\n", fails ? "FAILED" : "all passed");
    return fails != 0;
}
