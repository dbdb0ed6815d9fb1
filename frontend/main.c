#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("sslc %s\n", SSLC_VERSION);
        return 0;
    }
    fprintf(stderr, "sslc: usage: sslc --version\n");
    return 2;
}
