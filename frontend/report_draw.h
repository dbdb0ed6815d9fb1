/* The pieces of `sslc report`'s page (frontend/cmd_report.c), written to a stream: line charts
 * and a scatter plot as inline SVG, images as PNG data: URIs, HTML-escaped text. Nothing here
 * refers to anything outside the page. */
#ifndef SSLC_REPORT_DRAW_H
#define SSLC_REPORT_DRAW_H
#include <stdint.h>
#include <stdio.h>

typedef struct {
    double *x, *y;
    int n, cap;
} series;
int series_add(series *s, double x, double y); /* 0, or -1 out of memory */
void series_free(series *s);

/* s with "&<>\"'" escaped */
void html_text(FILE *f, const char *s);
/* A line chart of y over x (step) with its title; a note instead when s is empty. */
void svg_line_chart(FILE *f, const char *title, const series *s);
/* n points xy[2i], xy[2i+1] coloured by cls[i] in [0, classes) (-1: grey), with a legend naming
 * each class names[c] (names may be NULL: "class c"; a long name is shortened, whole in a tooltip). */
void svg_scatter(FILE *f, const float *xy, const int64_t *cls, int64_t n, int classes, char *const *names);
/* <img> of an 8-bit CHW image (1 or 3 channels) as an embedded PNG. 0 or -1 with err. */
int html_png(FILE *f, const uint8_t *chw, int w, int h, int c, const char *alt, char *err);

#endif
