"""Plain SVG bar charts of run.sh's results, one per model family: for each
row of the family and each thread count, the ratio (higher = adjoint
better) as a horizontal bar on a logarithmic axis, with the parity line at
1.  Standard library only; used by report.py.
"""
import math
from xml.sax.saxutils import escape

# family -> predicate on a table row's workload label
FAMILIES = [
    ("mlp", "MLP training step (784-256-256-10, tiny 2-8-1)",
     lambda w: (w.startswith("mlp") or w.startswith("tiny")) and "RSS" not in w
     and "allocs" not in w),
    ("cnn", "CNN training step and its convolutions",
     lambda w: w.startswith("cnn") or w.startswith("conv2d")),
    ("rnn_gpt", "GPT, LSTM and GRU training steps",
     lambda w: w.startswith(("gpt", "lstm", "gru"))),
    ("ops", "single ops, forward + backward",
     lambda w: w.startswith(("max_pool2d", "layer_norm", "attention", "embedding", "bmm"))),
    ("chain", "scalar chain (PyTorch, and the minimal C tape)",
     lambda w: w.startswith(("chain", "min tape"))),
    ("memory", "peak resident set of training",
     lambda w: w.startswith("peak RSS") or "peak RSS" in w),
]

COLOURS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52"]


def bars(title, items):
    """items: [(label, threads, ratio)] -> SVG text (a string)."""
    threads = sorted({t for _, t, _ in items})
    labels = []
    for lab, _, _ in items:
        if lab not in labels:
            labels.append(lab)
    vals = [r for _, _, r in items if r and r > 0]
    lo = min(vals + [0.5]) / 1.5
    hi = max(vals + [2.0]) * 1.5
    lmin, lmax = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    left, right, top, row_h, bar_h = 330, 40, 50, 14 * max(1, len(threads)) + 8, 12
    width = 900
    height = top + row_h * len(labels) + 50
    plot_w = width - left - right

    def x(v):
        return left + plot_w * (math.log10(v) - lmin) / (lmax - lmin)

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="11">' % (width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="20" font-size="14">%s</text>' % (left, escape(title)),
           '<text x="%d" y="36" fill="#555">ratio, log scale: above 1 adjoint is better '
           '(rates adjoint/PyTorch, costs PyTorch/adjoint)</text>' % left]
    for e in range(lmin, lmax + 1):
        for m in ((1, 2, 5) if lmax - lmin <= 3 else (1,)):
            v = m * 10.0 ** e
            if v < 10.0 ** lmin or v > 10.0 ** lmax:
                continue
            xv = x(v)
            out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>' % (
                xv, top, xv, height - 40, "#999" if m == 1 else "#e5e5e5"))
            out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (
                xv, height - 26, escape("%g" % v)))
    xone = x(1.0)
    out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black" stroke-width="1.5"/>' % (
        xone, top, xone, height - 40))
    for i, lab in enumerate(labels):
        y0 = top + i * row_h + 4
        out.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (
            left - 6, y0 + row_h / 2, escape(lab)))
        for j, t in enumerate(threads):
            r = next((r for la, th, r in items if la == lab and th == t), None)
            if not r or r <= 0:
                continue
            y = y0 + j * 14
            a, b = sorted((x(r), xone))
            out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>' % (
                a, y, max(b - a, 1.0), bar_h, COLOURS[j % len(COLOURS)]))
            if r >= 1:
                out.append('<text x="%.1f" y="%d">%s</text>' % (b + 3, y + 10, escape("%.3g" % r)))
            else:
                out.append('<text x="%.1f" y="%d" text-anchor="end">%s</text>' % (
                    a - 3, y + 10, escape("%.3g" % r)))
    for j, t in enumerate(threads):
        xl = left + 120 * j
        out.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/>' % (
            xl, height - 16, COLOURS[j % len(COLOURS)]))
        out.append('<text x="%d" y="%d">%d thread%s</text>' % (xl + 14, height - 7, t,
                                                               "" if t == 1 else "s"))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def family_items(rows, floor_ratios):
    """{family: (title, [(label, threads, ratio)])} of the families that
    have rows.  floor_ratios: [(label, threads, ratio)] of the chain
    against the minimal tape (floor / adjoint, higher = closer)."""
    out = {}
    for key, title, pred in FAMILIES:
        items = [(r["workload"], r["threads"], r["ratio"]) for r in rows
                 if pred(r["workload"]) and r.get("ratio")]
        if key == "chain":
            items += floor_ratios
        if items:
            out[key] = (title, items)
    return out
