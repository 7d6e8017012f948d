"""Agreement cases of the batched product (built in agree_bmm.c) with
torch.matmul in float64: 3-D and 4-D operands, batch dimensions broadcast
on either side or both, size-1 and zero-size batches, 1-D operands, and b
read through a transposed view.  See ../torch_agree.py for the case
format."""


def cases(torch, F):
    gen = torch.Generator().manual_seed(11)

    def rnd(*shape):
        return torch.randn(shape, dtype=torch.float64, generator=gen)

    def tag(shape):
        return "x".join(str(d) for d in shape) or "0d"

    grid = [
        ((2, 3, 4), (2, 4, 5)),
        ((2, 3, 5, 4), (2, 3, 4, 6)),          # (B,H,T,D) x (B,H,D,T)
        ((2, 1, 5, 4), (3, 4, 6)),             # (B,1,T,D) x (H,D,S)
        ((5, 4), (3, 4, 6)),                   # (T,D) x (B,D,E)
        ((3, 5, 4), (4, 6)),
        ((1, 5, 4), (3, 4, 2)),
        ((3, 1, 5, 4), (1, 2, 4, 3)),
        ((0, 5, 4), (0, 4, 3)),
        ((2, 3, 0), (2, 0, 4)),
        ((1, 1, 1), (1, 1, 1)),
        ((4,), (2, 4, 3)),
        ((2, 3, 4), (4,)),
        ((4,), (4,)),
        ((4,), (4, 3)),
        ((3, 4), (4,)),
        ((2, 2, 3, 70), (2, 1, 70, 40)),       # products large enough for BLIS
    ]
    out = []
    for sa, sb in grid:
        for op in ("matmul", "matmul_bt"):
            if op == "matmul_bt" and len(sb) < 2:
                continue
            a, b = rnd(*sa), rnd(*sb)
            if op == "matmul":
                inputs = [("a", a), ("b", b)]
                ref = lambda t: torch.matmul(t["a"], t["b"])
            else:
                inputs = [("a", a), ("bt", b.transpose(-1, -2).contiguous())]
                ref = lambda t: torch.matmul(t["a"], t["bt"].transpose(-1, -2))
            out.append(dict(op=op, label="%s/%s/%s" % (op, tag(sa), tag(sb)), inputs=inputs,
                            attrs={}, ref=ref, tol=1e-12))
    out.append(dict(op="matmul", label="matmul/inner", inputs=[("a", rnd(2, 3, 4)), ("b", rnd(2, 5, 3))],
                    attrs={}, error="inner dimensions differ (4 vs 5)"))
    out.append(dict(op="matmul", label="matmul/batch", inputs=[("a", rnd(2, 3, 4)), ("b", rnd(3, 4, 3))],
                    attrs={}, error="batch dimensions (2) and (3) do not broadcast"))
    return out
