#!/usr/bin/python3
"""Draw MLP training throughput (samples/s) against batch size, one line
per engine and thread count, from a run.sh results file, as SVG.
Standard library only.

    plot_mlp.py [results.json] [out.svg]    (defaults: bench/results.json,
                                             docs/mlp_batch.svg)
"""
import json
import math
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "results.json")
dst = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "docs", "mlp_batch.svg")

with open(src) as f:
    res = json.load(f)
series = {}  # (engine, threads) -> {batch: samples/s}
for d in res["raw"]:
    if d.get("workload") == "mlp_step" and d.get("variant", "tuned") == "tuned":
        series.setdefault((d["engine"], d["threads"]), {})[d["batch"]] = d["samples_per_s"]
if not series:
    sys.exit("plot_mlp.py: no mlp_step results in %s" % src)

W, H, L, R, T, B = 640, 400, 80, 170, 40, 50
batches = sorted({b for s in series.values() for b in s})
ymax = max(v for s in series.values() for v in s.values())
step = 10 ** math.floor(math.log10(ymax / 4))
ytop = math.ceil(ymax * 1.1 / step) * step


def x_of(b):
    lo, hi = math.log2(batches[0]), math.log2(batches[-1])
    return L + (math.log2(b) - lo) / max(hi - lo, 1e-9) * (W - L - R)


def y_of(v):
    return H - B - v / ytop * (H - T - B)


out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
       'font-family="sans-serif" font-size="12">' % (W, H),
       '<rect width="100%" height="100%" fill="white"/>',
       '<text x="%d" y="22" font-size="14">784-256-256-10 MLP training step, float32: '
       'samples/s vs batch</text>' % L]
ticks = 5
for i in range(ticks + 1):
    v = ytop * i / ticks
    y = y_of(v)
    out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (L, y, W - R, y))
    out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (L - 6, y + 4,
                                                                      "{:,.0f}".format(v)))
for b in batches:
    x = x_of(b)
    out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (x, T, x, H - B))
    out.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (x, H - B + 16, b))
out.append('<text x="%d" y="%d" text-anchor="middle">batch size</text>' % ((L + W - R) / 2, H - 12))
out.append('<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">samples / s'
           '</text>' % ((T + H - B) / 2, (T + H - B) / 2))
colors = {"adjoint": "#1f77b4", "pytorch": "#d62728"}
for i, key in enumerate(sorted(series)):
    engine, th = key
    pts = sorted(series[key].items())
    dash = "" if th == 1 else ' stroke-dasharray="6 3"'
    path = " ".join("%.1f,%.1f" % (x_of(b), y_of(v)) for b, v in pts)
    out.append('<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>'
               % (path, colors.get(engine, "black"), dash))
    for b, v in pts:
        out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (x_of(b), y_of(v),
                                                                    colors.get(engine, "black")))
    ly = T + 10 + 20 * i
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>'
               % (W - R + 12, ly, W - R + 40, ly, colors.get(engine, "black"), dash))
    out.append('<text x="%d" y="%d">%s, %d thread%s</text>'
               % (W - R + 46, ly + 4, "adjoint" if engine == "adjoint" else "PyTorch", th,
                  "" if th == 1 else "s"))
out.append("</svg>")
with open(dst, "w") as f:
    f.write("\n".join(out) + "\n")
print("written: %s" % dst)
