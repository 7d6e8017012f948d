"""Agreement cases of the convolution and pooling ops (built in agree_conv.c):
see ../torch_agree.py for the case format.  A grid over stride, padding,
dilation, groups and bias for each convolution, kernel/stride/padding for
the pools, output sizes for adaptive pooling, and the errors PyTorch also
refuses."""
import itertools


def cases(torch, F):
    gen = torch.Generator().manual_seed(12)

    def rnd(*shape):
        return torch.randn(shape, dtype=torch.float64, generator=gen)

    out = []
    # conv2d: x (2, 4, 7, 6), w (6, 4/g, 3, 2)
    for (sh, sw), (ph, pw), (dh, dw), g, bias in itertools.product(
            [(1, 1), (2, 1), (2, 3)], [(0, 0), (1, 2)], [(1, 1), (2, 1)], [1, 2], [True, False]):
        x, w = rnd(2, 4, 7, 6), rnd(6, 4 // g, 3, 2)
        b = rnd(6) if bias else None
        a = dict(sh=sh, sw=sw, ph=ph, pw=pw, dh=dh, dw=dw, g=g)
        out.append(dict(op="conv2d", inputs=[("x", x), ("w", w), ("b", b)], attrs=a,
                        label="conv2d/s%d%d/p%d%d/d%d%d/g%d/b%d" % (sh, sw, ph, pw, dh, dw, g, bias),
                        ref=lambda t, a=a: F.conv2d(t["x"], t["w"], t["b"], (a["sh"], a["sw"]),
                                                    (a["ph"], a["pw"]), (a["dh"], a["dw"]), a["g"])))
    # depthwise, 1x1, batch 1
    for label, xs, ws, a in [("depthwise", (1, 3, 5, 5), (3, 1, 3, 3), dict(g=3, ph=1, pw=1, sh=2, sw=2)),
                             ("1x1", (3, 5, 4, 3), (2, 5, 1, 1), {}),
                             ("5x5", (1, 1, 9, 8), (4, 1, 5, 5), dict(ph=2, pw=2))]:
        full = dict(sh=1, sw=1, ph=0, pw=0, dh=1, dw=1, g=1)
        full.update(a)
        out.append(dict(op="conv2d", inputs=[("x", rnd(*xs)), ("w", rnd(*ws)), ("b", rnd(ws[0]))],
                        attrs=full, label="conv2d/" + label,
                        ref=lambda t, a=full: F.conv2d(t["x"], t["w"], t["b"], (a["sh"], a["sw"]),
                                                       (a["ph"], a["pw"]), (a["dh"], a["dw"]), a["g"])))
    # conv1d: x (2, 4, 9), w (6, 4/g, 3)
    for s, p, d, g, bias in itertools.product([1, 2], [0, 2], [1, 2], [1, 2], [True, False]):
        a = dict(s=s, p=p, d=d, g=g)
        out.append(dict(op="conv1d", attrs=a, label="conv1d/s%d/p%d/d%d/g%d/b%d" % (s, p, d, g, bias),
                        inputs=[("x", rnd(2, 4, 9)), ("w", rnd(6, 4 // g, 3)),
                                ("b", rnd(6) if bias else None)],
                        ref=lambda t, a=a: F.conv1d(t["x"], t["w"], t["b"], a["s"], a["p"], a["d"], a["g"])))
    # conv_transpose2d: x (2, 4, 4, 3), w (4, 6/g, 3, 2)
    for (sh, sw), (ph, pw), (oh, ow), (dh, dw), g, bias in itertools.product(
            [(1, 1), (2, 3)], [(0, 0), (1, 1)], [(0, 0), (1, 1)], [(1, 1), (2, 2)], [1, 2],
            [True, False]):
        if oh >= max(sh, dh) or ow >= max(sw, dw):
            continue
        a = dict(sh=sh, sw=sw, ph=ph, pw=pw, oph=oh, opw=ow, dh=dh, dw=dw, g=g)
        out.append(dict(op="conv_transpose2d", attrs=a,
                        label="conv_transpose2d/s%d%d/p%d%d/op%d%d/d%d%d/g%d/b%d"
                        % (sh, sw, ph, pw, oh, ow, dh, dw, g, bias),
                        inputs=[("x", rnd(2, 4, 4, 3)), ("w", rnd(4, 6 // g, 3, 2)),
                                ("b", rnd(6 // g * g) if bias else None)],
                        ref=lambda t, a=a: F.conv_transpose2d(
                            t["x"], t["w"], t["b"], (a["sh"], a["sw"]), (a["ph"], a["pw"]),
                            (a["oph"], a["opw"]), a["g"], (a["dh"], a["dw"]))))
    # pools: x (2, 3, 7, 6)
    for (kh, kw), (sh, sw), (ph, pw) in itertools.product(
            [(2, 2), (3, 2), (3, 3)], [(1, 1), (2, 2), (3, 1)], [(0, 0), (1, 1)]):
        a = dict(kh=kh, kw=kw, sh=sh, sw=sw, ph=ph, pw=pw)
        tag = "k%d%d/s%d%d/p%d%d" % (kh, kw, sh, sw, ph, pw)
        out.append(dict(op="max_pool2d", attrs=a, label="max_pool2d/" + tag, inputs=[("x", rnd(2, 3, 7, 6))],
                        ref=lambda t, a=a: F.max_pool2d(t["x"], (a["kh"], a["kw"]), (a["sh"], a["sw"]),
                                                        (a["ph"], a["pw"]))))
        out.append(dict(op="avg_pool2d", attrs=a, label="avg_pool2d/" + tag, inputs=[("x", rnd(2, 3, 7, 6))],
                        ref=lambda t, a=a: F.avg_pool2d(t["x"], (a["kh"], a["kw"]), (a["sh"], a["sw"]),
                                                        (a["ph"], a["pw"]))))
    for oh, ow in [(1, 1), (2, 3), (3, 3), (5, 4), (7, 6), (9, 10)]:
        a = dict(oh=oh, ow=ow)
        out.append(dict(op="adaptive_avg_pool2d", attrs=a, label="adaptive_avg_pool2d/%dx%d" % (oh, ow),
                        inputs=[("x", rnd(2, 3, 7, 6))],
                        ref=lambda t, a=a: F.adaptive_avg_pool2d(t["x"], (a["oh"], a["ow"]))))
    # errors PyTorch refuses too
    out.append(dict(op="conv2d", label="conv2d/error/groups", attrs=dict(g=3),
                    inputs=[("x", rnd(1, 4, 5, 5)), ("w", rnd(6, 1, 3, 3)), ("b", None)],
                    error="not divisible by groups"))
    out.append(dict(op="conv2d", label="conv2d/error/kernel", attrs={},
                    inputs=[("x", rnd(1, 1, 2, 5)), ("w", rnd(1, 1, 3, 3)), ("b", None)],
                    error="larger than the padded input"))
    out.append(dict(op="conv2d", label="conv2d/error/stride", attrs=dict(sh=0),
                    inputs=[("x", rnd(1, 1, 5, 5)), ("w", rnd(1, 1, 3, 3)), ("b", None)],
                    error="stride"))
    out.append(dict(op="max_pool2d", label="max_pool2d/error/padding", attrs=dict(kh=2, kw=2, ph=2),
                    inputs=[("x", rnd(1, 1, 5, 5))], error="padding"))
    return out
