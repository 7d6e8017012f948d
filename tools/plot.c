/*
 * A hand-written SVG line chart: training loss on the left, validation
 * and test accuracy (or MSE) on the right, one point per epoch.
 */
#include "data.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define W 930
#define H 360
#define PW 380 /* panel plot width */
#define PH 260
#define TOP 50

static void panel(FILE *f, int x0, const char *title, int n, const double *a, const char *ca,
                  const char *la, const double *b, const char *cb, const char *lb)
{
    /* a series without values (no validation or test set: NaN) is not drawn */
    int has_a = 0, has_b = 0;
    for (int i = 0; i < n; i++) {
        has_a |= isfinite(a[i]);
        has_b |= b && isfinite(b[i]);
    }
    if (!has_a)
        a = NULL;
    if (!has_b)
        b = NULL;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (a && isfinite(a[i]) && a[i] < lo)
            lo = a[i];
        if (a && isfinite(a[i]) && a[i] > hi)
            hi = a[i];
        if (b && isfinite(b[i]) && b[i] < lo)
            lo = b[i];
        if (b && isfinite(b[i]) && b[i] > hi)
            hi = b[i];
    }
    if (!a && !b)
        lo = hi = 0.5;
    if (!(hi > lo)) {
        lo -= 0.5;
        hi += 0.5;
    }
    /* ticks at a round step (1, 2 or 5 times a power of ten), the axis
     * widened to whole steps */
    double raw = (hi - lo) / 4, mag = pow(10, floor(log10(raw))), step = 10 * mag;
    if (raw <= mag)
        step = mag;
    else if (raw <= 2 * mag)
        step = 2 * mag;
    else if (raw <= 5 * mag)
        step = 5 * mag;
    lo = floor(lo / step) * step;
    hi = ceil(hi / step) * step;
    int ticks = (int)lround((hi - lo) / step);
    fprintf(f, "<text x=\"%d\" y=\"30\" font-size=\"16\" text-anchor=\"middle\">%s</text>\n",
            x0 + PW / 2, title);
    fprintf(f,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>\n",
            x0, TOP, PW, PH);
    for (int k = 0; k <= ticks; k++) {
        double v = lo + step * k;
        int y = TOP + PH - (int)lround(PH * (double)k / ticks);
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n", x0, y,
                x0 + PW, y);
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%.4g</text>\n",
                x0 - 4, y + 4, fabs(v) < step / 1e6 ? 0.0 : v);
    }
    for (int i = 0; i < n; i++) {
        int x = x0 + (n > 1 ? (int)lround((double)PW * i / (n - 1)) : PW / 2);
        if (n <= 20 || i % ((n + 9) / 10) == 0)
            fprintf(f,
                    "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%d</text>\n",
                    x, TOP + PH + 16, i + 1);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">epoch</text>\n",
            x0 + PW / 2, TOP + PH + 34);
    const double *ser[2] = {a, b};
    const char *col[2] = {ca, cb}, *lab[2] = {la, lb};
    for (int s = 0; s < 2; s++) {
        if (!ser[s])
            continue;
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col[s]);
        for (int i = 0; i < n; i++) {
            if (!isfinite(ser[s][i]))
                continue;
            double x = x0 + (n > 1 ? (double)PW * i / (n - 1) : PW / 2.0);
            double y = TOP + PH - PH * (ser[s][i] - lo) / (hi - lo);
            fprintf(f, "%.1f,%.1f ", x, y);
        }
        fprintf(f, "\"/>\n");
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"%s\">%s</text>\n",
                x0 + PW - 110, TOP + 18 + 16 * s, col[s], lab[s]);
    }
}

void adj_tool_write_svg(FILE *f, const char *metric, int n, const double *loss,
                        const double *val_acc, const double *test_acc)
{
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H, W, H);
    if (n > 0) {
        panel(f, 70, "training loss", n, loss, "#c0392b", "train loss", NULL, NULL, NULL);
        panel(f, 70 + PW + 70, strcmp(metric, "mse") == 0 ? "reconstruction MSE" : metric, n, val_acc, "#2471a3", "validation", test_acc, "#229954",
              "test");
    }
    fprintf(f, "</svg>\n");
}
