"""Agreement cases of the normalisation ops (built in agree_norm.c) with
torch.nn.functional in float64: layer_norm, group_norm, batch_norm, and
RMS norm by its formula (PyTorch 1.13 has no rms_norm).  See
../torch_agree.py for the case format."""


def cases(torch, F):
    gen = torch.Generator().manual_seed(7)

    def rnd(*shape, scale=1.0, offset=0.0):
        return torch.randn(shape, dtype=torch.float64, generator=gen) * scale + offset

    def tag(shape):
        return "x".join(str(d) for d in shape)

    out = []
    # layer norm: shapes x normalized_ndim x affine x eps, one large offset
    for shape, nd in [((4, 6), 1), ((2, 3, 5), 1), ((2, 3, 5), 2), ((1, 8), 1), ((3, 2, 2, 3), 3),
                      ((7,), 1)]:
        for affine in ("wb", "w", "none"):
            for eps in (1e-5, 0.1):
                norm = shape[len(shape) - nd:]
                x = rnd(*shape, scale=2.0, offset=3.0)
                w = rnd(*norm) if affine != "none" else None
                b = rnd(*norm) if affine == "wb" else None
                out.append(dict(
                    op="layer_norm", label="layer_norm/%s/nd%d/%s/eps%g" % (tag(shape), nd, affine, eps),
                    inputs=[("x", x), ("w", w), ("b", b)], attrs={"ndim": nd, "eps": eps},
                    ref=lambda t, ns=norm, e=eps: F.layer_norm(t["x"], ns, t["w"], t["b"], e)))
    x = rnd(3, 16, scale=1e-3, offset=1e4)
    out.append(dict(op="layer_norm", label="layer_norm/offset1e4", inputs=[("x", x), ("w", None), ("b", None)],
                    attrs={"ndim": 1, "eps": 1e-12},
                    ref=lambda t: F.layer_norm(t["x"], (16,), None, None, 1e-12), tol=1e-8))

    # RMS norm: y = x / sqrt(mean(x^2) + eps) * w
    def rms_ref(t, e):
        x = t["x"]
        y = x * torch.rsqrt((x * x).mean(-1, keepdim=True) + e)
        return y * t["w"] if t["w"] is not None else y

    for shape in [(4, 6), (2, 3, 5), (9,), (5, 1)]:
        for affine in (True, False):
            for eps in (1e-6, 0.5):
                x = rnd(*shape)
                w = rnd(shape[-1]) if affine else None
                out.append(dict(
                    op="rms_norm", label="rms_norm/%s/%s/eps%g" % (tag(shape), "w" if affine else "none", eps),
                    inputs=[("x", x), ("w", w)], attrs={"eps": eps},
                    ref=lambda t, e=eps: rms_ref(t, e)))

    # group norm: (N, C, ...) x groups x affine
    for shape in [(2, 6, 3, 3), (1, 4, 5), (3, 6), (2, 8, 2, 2)]:
        for groups in [g for g in (1, 2, 3, shape[1]) if shape[1] % g == 0]:
            for affine in ("wb", "none"):
                c = shape[1]
                x = rnd(*shape, scale=1.5, offset=-1.0)
                w = rnd(c) if affine == "wb" else None
                b = rnd(c) if affine == "wb" else None
                out.append(dict(
                    op="group_norm", label="group_norm/%s/g%d/%s" % (tag(shape), groups, affine),
                    inputs=[("x", x), ("w", w), ("b", b)], attrs={"groups": groups, "eps": 1e-5},
                    ref=lambda t, g=groups: F.group_norm(t["x"], g, t["w"], t["b"], 1e-5),
                    # groups of one element: y = b, the rest is PyTorch's rounding
                    atol=1e-12 if groups == c and len(shape) == 2 else 0.0))
    out.append(dict(op="group_norm", label="group_norm/groups-not-dividing",
                    inputs=[("x", rnd(2, 6, 2)), ("w", None), ("b", None)], attrs={"groups": 4},
                    error="groups 4 does not divide"))

    # batch norm: (N, C) and (N, C, H, W) x training x running stats x affine
    def bn_ref(t, training, momentum, eps):
        rm, rv = t["running_mean"], t["running_var"]
        rm = rm.detach().clone() if rm is not None else None
        rv = rv.detach().clone() if rv is not None else None
        y = F.batch_norm(t["x"], rm, rv, t["w"], t["b"], training, momentum, eps)
        return y, ({"running_mean": rm, "running_var": rv} if rm is not None else {})

    for shape in [(5, 3), (2, 3, 2, 2), (1, 2, 3, 3), (4, 2, 5)]:
        for training in (1, 0):
            for running in (True, False):
                if not training and not running:
                    continue  # PyTorch wants running statistics in evaluation
                for affine in ("wb", "none"):
                    for momentum, eps in ((0.1, 1e-5), (0.7, 0.01)):
                        c = shape[1]
                        x = rnd(*shape, scale=2.0, offset=1.0)
                        rm = rnd(c) if running else None
                        rv = rnd(c).abs() + 0.5 if running else None
                        w = rnd(c) if affine == "wb" else None
                        b = rnd(c) if affine == "wb" else None
                        out.append(dict(
                            op="batch_norm",
                            label="batch_norm/%s/%s/%s/%s/m%g" % (
                                tag(shape), "train" if training else "eval",
                                "running" if running else "batch", affine, momentum),
                            inputs=[("x", x), ("w", w), ("b", b), ("running_mean", rm),
                                    ("running_var", rv)],
                            attrs={"training": training, "momentum": momentum, "eps": eps},
                            nograd=["running_mean", "running_var"],
                            ref=lambda t, tr=training, m=momentum, e=eps: bn_ref(t, bool(tr), m, e)))
    one = rnd(1, 3)
    out.append(dict(op="batch_norm", label="batch_norm/one-value-per-channel",
                    inputs=[("x", one), ("w", None), ("b", None), ("running_mean", torch.zeros(3,
                            dtype=torch.float64)), ("running_var", torch.ones(3, dtype=torch.float64))],
                    attrs={"training": 1}, error="1 value per channel"))
    out.append(dict(op="batch_norm", label="batch_norm/momentum-above-1",
                    inputs=[("x", rnd(4, 3)), ("w", None), ("b", None)],
                    attrs={"training": 1, "momentum": 1.5}, error="momentum 1.5"))
    return out
