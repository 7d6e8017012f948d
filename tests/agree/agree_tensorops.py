"""Agreement cases of the joins, masks, scans and argmax (where,
masked_fill, clamp, cumsum, pad, concat, stack, split, chunk, argmax,
argmin): see ../torch_agree.py."""


def cases(torch, F):
    gen = torch.Generator().manual_seed(11)
    f64 = torch.float64

    def rnd(*shape):
        return torch.randn(shape, dtype=f64, generator=gen)

    def mask(*shape):
        return (torch.rand(shape, dtype=f64, generator=gen) < 0.5).to(f64)

    def tag(shape):
        return "x".join(str(d) for d in shape) or "0d"

    out = []
    # where: cond, a, b broadcast together
    for cs, as_, bs in [((3, 4), (3, 4), (3, 4)), ((4,), (3, 4), (3, 1)),
                        ((2, 1, 3), (1, 3), ()), ((3, 1), (1, 4), (3, 4)), ((0, 3), (1, 3), (3,))]:
        out.append(dict(op="where", label="where/%s/%s/%s" % (tag(cs), tag(as_), tag(bs)),
                        inputs=[("cond", mask(*cs)), ("a", rnd(*as_)), ("b", rnd(*bs))],
                        nograd=["cond"], attrs={},
                        ref=lambda t: torch.where(t["cond"] != 0, t["a"], t["b"])))
    # masked_fill: a mask broadcast to x
    for xs, ms, v in [((3, 4), (3, 4), 0.5), ((3, 4), (4,), -2.0), ((2, 3, 4), (3, 1), 7.0)]:
        out.append(dict(op="masked_fill", label="masked_fill/%s/%s" % (tag(xs), tag(ms)),
                        inputs=[("x", rnd(*xs)), ("mask", mask(*ms))], nograd=["mask"],
                        attrs={"value": v},
                        ref=lambda t, v=v: t["x"].masked_fill(t["mask"] != 0, v)))
    # a causal mask of -inf before softmax
    for T in (1, 4, 6):
        causal = torch.triu(torch.ones(T, T, dtype=f64), diagonal=1)
        out.append(dict(op="masked_softmax", label="masked_softmax/causal%d" % T,
                        inputs=[("x", rnd(2, T, T) * 3), ("mask", causal)], nograd=["mask"],
                        attrs={},
                        ref=lambda t: torch.softmax(
                            t["x"].masked_fill(t["mask"] != 0, float("-inf")), -1)))
    # clamp: both sides, one side; values exactly at the bounds
    x = torch.tensor([[-2.0, -1.0, -0.5, 0.0], [0.5, 1.0, 1.5, 3.0]], dtype=f64)
    for lo, hi in [(-1.0, 1.0), (-0.5, None), (None, 0.5), (0.0, 0.0)]:
        attrs = {}
        if lo is not None:
            attrs["lo"] = lo
        if hi is not None:
            attrs["hi"] = hi
        out.append(dict(op="clamp", label="clamp/%s/%s" % (lo, hi),
                        inputs=[("x", x.clone())], attrs=attrs,
                        ref=lambda t, lo=lo, hi=hi: torch.clamp(t["x"], lo, hi)))
    # cumsum along every axis
    for shape in [(5,), (3, 4), (2, 3, 4), (2, 0, 3)]:
        for axis in range(-len(shape), len(shape)):
            out.append(dict(op="cumsum", label="cumsum/%s/axis%d" % (tag(shape), axis),
                            inputs=[("x", rnd(*shape))], attrs={"axis": axis},
                            ref=lambda t, a=axis: torch.cumsum(t["x"], a)))
    # pad: adjoint's pads in axis order (before, after); F.pad's last axis first
    for shape, pads, v in [((4,), [1, 2], 0.0), ((3, 2), [0, 1, 2, 0], -1.5),
                           ((2, 1, 3), [1, 0, 0, 2, 1, 1], 0.25), ((0, 2), [1, 1, 0, 0], 3.0)]:
        tp = []
        for k in reversed(range(len(shape))):
            tp += [pads[2 * k], pads[2 * k + 1]]
        attrs = {"p%d" % k: p for k, p in enumerate(pads)}
        attrs["value"] = v
        out.append(dict(op="pad", label="pad/%s/%s" % (tag(shape), "_".join(map(str, pads))),
                        inputs=[("x", rnd(*shape))], attrs=attrs,
                        ref=lambda t, tp=tp, v=v: F.pad(t["x"], tp, value=v)))
    # concat and stack
    for shapes, axis in [([(2, 3), (1, 3)], 0), ([(2, 1), (2, 3), (2, 2)], -1),
                         ([(2, 2, 3), (2, 1, 3), (2, 0, 3)], 1), ([(4,)], 0)]:
        ins = [("x%d" % k, rnd(*s)) for k, s in enumerate(shapes)]
        out.append(dict(op="concat", label="concat/%d/axis%d/%s" % (len(shapes), axis,
                                                                     tag(shapes[-1])),
                        inputs=ins, attrs={"n": len(shapes), "axis": axis},
                        ref=lambda t, n=len(shapes), a=axis: torch.cat(
                            [t["x%d" % k] for k in range(n)], a)))
    for shape, n, axis in [((2, 3), 2, 0), ((2, 3), 3, 1), ((2, 3), 2, -1), ((), 4, 0),
                           ((3,), 5, -1)]:
        ins = [("x%d" % k, rnd(*shape)) for k in range(n)]
        out.append(dict(op="stack", label="stack/%s/%d/axis%d" % (tag(shape), n, axis),
                        inputs=ins, attrs={"n": n, "axis": axis},
                        ref=lambda t, n=n, a=axis: torch.stack([t["x%d" % k] for k in range(n)], a)))

    # split and chunk: the pieces scaled by 1, 2, ... and joined again
    def rejoin(pieces, axis):
        return torch.cat([p * (k + 1) for k, p in enumerate(pieces)], axis)

    for shape, axis, sizes in [((5,), 0, [2, 0, 3]), ((3, 4), 1, [1, 3]), ((4, 3), -2, [2, 1, 1])]:
        attrs = {"axis": axis, "n": len(sizes)}
        attrs.update({"s%d" % k: s for k, s in enumerate(sizes)})
        out.append(dict(op="split", label="split/%s/axis%d/%s" % (tag(shape), axis,
                                                                   "_".join(map(str, sizes))),
                        inputs=[("x", rnd(*shape))], attrs=attrs,
                        ref=lambda t, a=axis, s=sizes: rejoin(torch.split(t["x"], s, a), a)))
    for shape, axis, chunks in [((5,), 0, 3), ((2, 4), 1, 3), ((6, 2), 0, 4), ((3, 2), 0, 1)]:
        out.append(dict(op="chunk", label="chunk/%s/axis%d/%d" % (tag(shape), axis, chunks),
                        inputs=[("x", rnd(*shape))], attrs={"axis": axis, "chunks": chunks},
                        ref=lambda t, a=axis, c=chunks: rejoin(torch.chunk(t["x"], c, a), a)))

    # argmax/argmin with keepdims: the indices (an extra) and x gathered at them;
    # small integers make ties, which go to the first index in both
    for shape, axis, ties in [((3, 4), 1, False), ((3, 4), 0, False), ((2, 3, 4), -1, True),
                              ((2, 5), 1, True)]:
        x = torch.randint(0, 3, shape, generator=gen).to(f64) if ties else rnd(*shape)
        for op, fn in (("argmax", torch.argmax), ("argmin", torch.argmin)):
            def ref(t, a=axis, fn=fn):
                i = fn(t["x"], a, keepdim=True)
                return torch.gather(t["x"], a, i), {"idx": i.to(f64)}
            out.append(dict(op=op, label="%s/%s/axis%d%s" % (op, tag(shape), axis,
                                                             "/ties" if ties else ""),
                            inputs=[("x", x.clone())], attrs={"axis": axis}, ref=ref))
    return out
