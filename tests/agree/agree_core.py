"""Agreement cases of ops that existed before the fused families
(softmax_axis, log_softmax_axis): see ../torch_agree.py."""


def cases(torch, F):
    gen = torch.Generator().manual_seed(1)
    out = []
    for shape in [(5,), (3, 4), (2, 3, 4)]:
        for axis in range(-len(shape), len(shape)):
            x = torch.randn(shape, dtype=torch.float64, generator=gen) * 3
            tag = "x".join(str(d) for d in shape)
            out.append(dict(op="softmax_axis", label="softmax_axis/%s/axis%d" % (tag, axis),
                            inputs=[("x", x)], attrs={"axis": axis},
                            ref=lambda t, a=axis: torch.softmax(t["x"], a)))
            out.append(dict(op="log_softmax_axis", label="log_softmax_axis/%s/axis%d" % (tag, axis),
                            inputs=[("x", x)], attrs={"axis": axis},
                            ref=lambda t, a=axis: torch.log_softmax(t["x"], a)))
    return out
