"""Agreement cases of the attention ops (built in agree_attn.c):
see ../torch_agree.py for the case format.

adj_scaled_dot_product_attention against the composition
softmax(masked_fill(q kᵀ scale, not kept, -inf)) v, kept = mask > 0 and,
when causal, j <= i (torch.ones(T, S).tril()): Debian's PyTorch 1.13 has
no F.scaled_dot_product_attention.  Every row keeps key 0, so no row is
left without keys (PyTorch gives NaN there, adjoint zeros)."""


def cases(torch, F):
    gen = torch.Generator().manual_seed(5)
    out = []

    def rnd(*shape):
        return torch.randn(shape, dtype=torch.float64, generator=gen)

    def ref(t, causal, scale):
        q, k, v, m = t["q"], t["k"], t["v"], t["mask"]
        T, S = q.shape[-2], k.shape[-2]
        s = q @ k.transpose(-2, -1) * (scale if scale else q.shape[-1] ** -0.5)
        keep = torch.ones(T, S, dtype=torch.bool)
        if causal:
            keep = keep.tril()
        if m is not None:
            keep = keep & (m > 0)
        return torch.softmax(s.masked_fill(~keep, float("-inf")), -1) @ v

    grid = [
        # q shape, k shape, v shape, mask shape or None
        ((2, 3, 5, 4), (2, 3, 7, 4), (2, 3, 7, 3), None),
        ((2, 6, 4), (2, 6, 4), (2, 6, 4), None),
        ((2, 2, 9, 3), (2, 2, 5, 3), (2, 2, 5, 2), (9, 5)),
        ((3, 4, 2), (1, 6, 2), (6, 5), (3, 1, 6)),         # k, v shared by the batch
        ((1, 70, 4), (1, 130, 4), (1, 130, 3), (70, 130)),  # several blocks each way
        ((2, 1, 3), (2, 1, 3), (2, 1, 3), None),
    ]
    for gi, (qs, ks, vs, ms) in enumerate(grid):
        for causal in (0, 1):
            for scale in (0.0, 0.37):
                q, k, v = rnd(*qs), rnd(*ks), rnd(*vs)
                m = None
                if ms is not None:
                    m = (torch.rand(ms, dtype=torch.float64, generator=gen) > 0.3).double()
                    m[..., 0] = 1.0
                label = "sdpa/g%d/causal%d/scale%g" % (gi, causal, scale)
                out.append(dict(op="scaled_dot_product_attention", label=label,
                                inputs=[("q", q), ("k", k), ("v", v), ("mask", m)],
                                attrs={"causal": causal, "scale": scale}, nograd=["mask"],
                                ref=lambda t, c=causal, s=scale: ref(t, c, s)))
    out.append(dict(op="scaled_dot_product_attention", label="sdpa/error/mask",
                    inputs=[("q", rnd(2, 3, 4)), ("k", rnd(2, 5, 4)), ("v", rnd(2, 5, 4)),
                            ("mask", torch.ones(3, 4, dtype=torch.float64))],
                    attrs={}, nograd=["mask"], error="mask (3,4) does not broadcast"))
    return out
