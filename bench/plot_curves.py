#!/usr/bin/python3
"""Draw the training curves of one run of each engine side by side, as SVG:
the training loss and the test accuracy (or reconstruction MSE) per epoch,
adjoint's from `adjoint train --json` and PyTorch's from
bench/fmnist_torch.py (its last line).  Standard library only.

    plot_curves.py ADJOINT.json TORCH.log OUT.svg [TITLE]
"""
import json
import sys


def last_json(path):
    """The last line of path that is a JSON object with a "curve"."""
    found = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                d = json.loads(line)
                if "curve" in d:
                    found = d
    if found is None:
        sys.exit("plot_curves.py: no JSON line with a curve in %s" % path)
    return found["curve"]


def ticks(lo, hi, n=5):
    span = (hi - lo) / n
    step = min((s * 10 ** e for e in range(-4, 3) for s in (1, 2, 5) if s * 10 ** e >= span))
    first = int(lo / step) * step
    out, v = [], first
    while v <= hi + 1e-12:
        if v >= lo - 1e-12:
            out.append(round(v, 10))
        v += step
    return out


def panel(x0, title, series, metric, W=380, H=260):
    """An SVG group: a frame of W x H at x0, one polyline per engine."""
    pts = [p for _, c in series for p in c]
    epochs = max(p["epoch"] for p in pts)
    vals = [p[metric] for p in pts if p.get(metric) is not None]
    lo, hi = min(vals), max(vals)
    pad = (hi - lo) * 0.08 or 0.01
    lo, hi = lo - pad, hi + pad
    L, T = 60, 40

    def X(e):
        return x0 + L + (e - 1) / max(epochs - 1, 1) * (W - L - 20)

    def Y(v):
        return T + (hi - v) / (hi - lo) * (H - T - 40)

    s = ['<text x="%.0f" y="22" font-size="15" text-anchor="middle">%s</text>' % (x0 + W / 2, title)]
    s.append('<rect x="%.0f" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>'
             % (x0 + L, T, W - L - 20, H - T - 40))
    for v in ticks(lo, hi):
        s.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/>'
                 % (x0 + L, x0 + W - 20, Y(v), Y(v)))
        s.append('<text x="%.1f" y="%.1f" font-size="11" text-anchor="end">%g</text>'
                 % (x0 + L - 5, Y(v) + 4, v))
    for e in range(1, epochs + 1):
        s.append('<text x="%.1f" y="%d" font-size="11" text-anchor="middle">%d</text>'
                 % (X(e), H - 24, e))
    s.append('<text x="%.0f" y="%d" font-size="12" text-anchor="middle">epoch</text>'
             % (x0 + L + (W - L - 20) / 2, H - 6))
    for k, (name, c) in enumerate(series):
        colour = ("#c0392b", "#2471a3")[k % 2]
        p = " ".join("%.1f,%.1f" % (X(q["epoch"]), Y(q[metric])) for q in c if q.get(metric) is not None)
        s.append('<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>' % (p, colour))
        # the legend in the corner the curves leave free: top right when they fall
        falls = metric != "test_accuracy"
        s.append('<text x="%.0f" y="%d" font-size="12" fill="%s" text-anchor="%s">%s</text>'
                 % (x0 + W - 30 if falls else x0 + L + 10, T + 18 + 16 * k, colour,
                    "end" if falls else "start", name))
    return s


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    adj, tor = last_json(sys.argv[1]), last_json(sys.argv[2])
    title = sys.argv[4] if len(sys.argv) > 4 else ""
    metric = "test_accuracy" if "test_accuracy" in tor[0] else "test_mse"
    series = [("adjoint", adj), ("PyTorch", tor)]
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<svg xmlns="http://www.w3.org/2000/svg" width="780" height="%d" font-family="sans-serif">'
           % (290 if title else 270),
           '<rect width="100%" height="100%" fill="white"/>']
    out += panel(0, "training loss", series, "train_loss")
    out += panel(390, metric.replace("_", " "), series, metric)
    if title:
        out.append('<text x="390" y="284" font-size="12" text-anchor="middle" fill="#444">%s</text>' % title)
    out.append("</svg>")
    with open(sys.argv[3], "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
