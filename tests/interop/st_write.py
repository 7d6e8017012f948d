#!/usr/bin/python3
"""Write a safetensors file by hand (numpy and torch only): tensors of
every floating-point dtype made by torch, and beside each one,
"expect.NAME", its values as torch converts them to float64.  The test
suite reads the file back and compares.  Usage: st_write.py OUT"""
import json
import struct
import sys

import numpy as np
import torch

DTYPES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
          torch.bfloat16: "BF16"}


def raw(t):
    """Little-endian bytes of a contiguous tensor (bf16 through int16)."""
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def write(path, tensors, metadata):
    header, blobs, at = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        b = raw(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    g = torch.Generator().manual_seed(5)
    base = torch.randn(3, 4, 5, generator=g, dtype=torch.float64) * 100
    special = torch.tensor([0.0, -0.0, 1e-7, 65504.0, 1e5, float("inf"), -1 / 3],
                           dtype=torch.float64)
    tensors = {
        "w64": base,
        "w32": base.to(torch.float32)[:, 1],
        "w16": base.to(torch.float16).transpose(0, 2),
        "wbf": base.to(torch.bfloat16)[0],
        "s16": special.to(torch.float16),
        "sbf": special.to(torch.bfloat16),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }
    out = dict(tensors)
    for name, t in tensors.items():
        out["expect." + name] = t.to(torch.float64).contiguous()
    assert np.isfinite(base.numpy()).all()
    write(sys.argv[1], out, {"format": "pt"})


if __name__ == "__main__":
    main()
