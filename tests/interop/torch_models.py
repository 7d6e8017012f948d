#!/usr/bin/python3
"""Interoperability with PyTorch (numpy and torch only; safetensors files
are read and written by hand here):

1. an MLP trained by `adjoint train`, loaded from its model.safetensors
   into the matching torch module (nn.Sequential), gives adjoint's logits
   on the data to 1e-5 (float32);
2. MLPs initialised by PyTorch (float64 and float32, with and without
   batch norm) and saved as safetensors give, in adjoint, the same
   first-step loss and gradients: float64 to 1e-10, float32 to 1e-5
   (relative to the largest value: of the loss, of all gradients);
3. character models built on torch.nn.RNN, LSTM and GRU (two layers) give
   adjoint's "rnn", "lstm" and "gru" models the same logits, loss and
   gradients on the same weights, to the same tolerances.

    torch_models.py INTEROP_RUN ADJOINT

Exits 77 (skipped) with a reason when torch cannot be imported."""
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except Exception as e:  # noqa: BLE001 (any import failure means: skip)
    print("torch_models: skipped: cannot import torch and numpy (%s); install python3-torch" % e)
    sys.exit(77)

ST = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}
TORCH_ST = {torch.float64: "F64", torch.float32: "F32", torch.int64: "I64"}
failures = 0


def write_st(path, tensors, meta):
    header, blobs, at = {"__metadata__": meta}, [], 0
    for name, t in tensors.items():
        b = t.detach().contiguous().numpy().tobytes()
        header[name] = {"dtype": TORCH_ST[t.dtype], "shape": list(t.shape),
                        "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_st(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    out = {}
    for name, h in header.items():
        b, e = h["data_offsets"]
        out[name] = np.frombuffer(data[b:e], dtype=ST[h["dtype"]]).reshape(h["shape"])
    return out, meta


ACTS = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid,
        "elu": torch.nn.ELU, "softplus": torch.nn.Softplus,
        "leaky_relu": lambda: torch.nn.LeakyReLU(0.01)}


def mlp_module(cfg, dtype):
    """The nn.Sequential docs/models.md names for an "mlp" configuration."""
    sizes = [int(s) for s in cfg["sizes"].split(",")]
    acts = cfg["acts"].split(",") if cfg.get("acts") else \
        [cfg.get("act", "relu")] * (len(sizes) - 2) + ["identity"]
    bn, drop = cfg.get("batchnorm", "0") == "1", float(cfg.get("dropout", "0"))
    layers = []
    for k in range(len(sizes) - 1):
        hidden = k < len(sizes) - 2
        layers.append(torch.nn.Linear(sizes[k], sizes[k + 1]))
        if hidden and bn:
            layers.append(torch.nn.BatchNorm1d(sizes[k + 1]))
        if acts[k] != "identity":
            layers.append(ACTS[acts[k]]())
        if hidden and drop > 0:
            layers.append(torch.nn.Dropout(drop))
    return torch.nn.Sequential(*layers).to(dtype)


def check(label, got, want, tol, floor=1e-300):
    """max |got - want| <= tol * max(max |want|, floor)."""
    global failures
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        print("FAIL %s: shape %s, torch %s" % (label, got.shape, want.shape))
        failures += 1
        return
    scale = max(float(np.max(np.abs(want))) if want.size else 0.0, floor)
    err = float(np.max(np.abs(got - want))) if want.size else 0.0
    ok = err <= tol * scale
    failures += not ok
    print("%s %s: max |adjoint - torch| = %.3g (scale %.3g, tolerance %.0e)"
          % ("ok  " if ok else "FAIL", label, err, scale, tol))


def run(exe, model, inputs, meta, tmp):
    src, out = os.path.join(tmp, "in.safetensors"), os.path.join(tmp, "out.safetensors")
    write_st(src, inputs, meta)
    subprocess.run([exe, model, src, out], check=True)
    return read_st(out)[0]


def trained_by_adjoint(exe, adjoint, tmp):
    """A model trained by the command reproduces its logits in torch."""
    rng = np.random.default_rng(3)
    n = 240
    y = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 4)) + 2.5 * np.stack([np.cos(y), np.sin(y), y, -y], 1)
    csv = os.path.join(tmp, "data.csv")
    with open(csv, "w") as f:
        f.write("a,b,c,d,label\n")
        for r in range(n):
            f.write("%s,%d\n" % (",".join("%.6f" % v for v in x[r]), y[r]))
    run_dir = os.path.join(tmp, "run")
    subprocess.run([adjoint, "train", "--data", "csv:" + csv, "--layers", "16,8", "--epochs", "3",
                    "--batch", "32", "--threads", "1", "--out", run_dir, "--quiet"], check=True)
    path = os.path.join(run_dir, "model.safetensors")
    state, meta = read_st(path)
    assert meta["arch"] == "mlp" and meta["format"] == "pt", meta
    cfg = {k[7:]: v for k, v in meta.items() if k.startswith("config.")}
    module = mlp_module(cfg, torch.float32)
    shift, scale = state.pop("input.shift"), state.pop("input.scale")
    missing, unexpected = module.load_state_dict(
        {k: torch.from_numpy(v.copy()) for k, v in state.items()}, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), \
        (missing, unexpected)
    module.eval()
    xin = torch.from_numpy(((x.astype(np.float32).astype(np.float64) - shift) * scale)
                           .astype(np.float32))
    with torch.no_grad():
        want = module(xin).numpy()
    got = run(exe, path, {"x": torch.from_numpy(x.astype(np.float32))}, {"mode": "eval"}, tmp)
    check("trained by adjoint, %s, logits in torch (f32)" % cfg["sizes"], got["logits"], want, 1e-5)


def initialised_by_torch(exe, tmp, dtype, bn):
    """A torch-initialised model gives adjoint the same first-step loss and gradients."""
    torch.manual_seed(7 + bn)
    cfg = {"sizes": "5,7,6,3", "act": "tanh", "batchnorm": "1" if bn else "0"}
    module = mlp_module(cfg, dtype)
    module.train()
    x = torch.randn(16, 5, dtype=dtype)
    y = torch.randint(0, 3, (16,))
    loss = F.cross_entropy(module(x), y)
    loss.backward()
    state = {k: v for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")}
    meta = {"format": "pt", "arch": "mlp", "dtype": TORCH_ST[dtype]}
    meta.update({"config." + k: v for k, v in cfg.items()})
    path = os.path.join(tmp, "torch_init.safetensors")
    write_st(path, state, meta)
    got = run(exe, path, {"x": x, "y": y}, {"mode": "train"}, tmp)
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    label = "initialised by torch (%s, batch norm %s)" % (TORCH_ST[dtype], "on" if bn else "off")
    check(label + ": loss", got["loss"], loss.item(), tol)
    # a bias before batch norm has a gradient of exactly 0 (the norm takes
    # the mean out), so torch's and adjoint's are both rounding noise: every
    # gradient is measured against the largest gradient of the model
    floor = max(float(p.grad.abs().max()) for p in module.parameters())
    for name, p in module.named_parameters():
        check(label + ": grad " + name, got["grad." + name], p.grad.numpy(), tol, floor)


class CharModel(torch.nn.Module):
    """The module docs/models.md gives for "rnn", "lstm" and "gru"."""

    def __init__(self, kind, vocab, embed, hidden, layers):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, embed)
        self.rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](
            embed, hidden, layers, batch_first=True)
        self.head = torch.nn.Linear(hidden, vocab)

    def forward(self, x):
        return self.head(self.rnn(self.embed(x))[0])


def char_model(exe, tmp, kind, dtype):
    """torch.nn.RNN/LSTM/GRU weights in adjoint: logits, loss and gradients."""
    torch.manual_seed(11)
    vocab, embed, hidden, layers = 7, 5, 6, 2
    module = CharModel(kind, vocab, embed, hidden, layers).to(dtype)
    x = torch.randint(0, vocab, (3, 5))
    y = torch.randint(0, vocab, (3, 5))
    logits = module(x)
    loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
    loss.backward()
    meta = {"format": "pt", "arch": kind, "dtype": TORCH_ST[dtype], "config.vocab": str(vocab),
            "config.embed": str(embed), "config.hidden": str(hidden), "config.layers": str(layers)}
    path = os.path.join(tmp, "char.safetensors")
    write_st(path, dict(module.state_dict()), meta)
    got = run(exe, path, {"x": x, "y": y}, {"mode": "train"}, tmp)
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    label = "torch.nn.%s weights (%s)" % ({"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[kind],
                                          TORCH_ST[dtype])
    check(label + ": logits", got["logits"], logits.detach().numpy(), tol)
    check(label + ": loss", got["loss"], loss.item(), tol)
    floor = max(float(p.grad.abs().max()) for p in module.parameters())
    for name, p in module.named_parameters():
        check(label + ": grad " + name, got["grad." + name], p.grad.numpy(), tol, floor)


def main():
    exe, adjoint = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        trained_by_adjoint(exe, adjoint, tmp)
        for dtype in (torch.float64, torch.float32):
            for bn in (0, 1):
                initialised_by_torch(exe, tmp, dtype, bn)
        for kind in ("rnn", "lstm", "gru"):
            for dtype in (torch.float64, torch.float32):
                char_model(exe, tmp, kind, dtype)
    print("torch_models: %d failures" % failures)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
