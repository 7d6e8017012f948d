#!/usr/bin/python3
"""Interoperability with PyTorch for the "cnn" architecture (numpy and
torch only): the nn.Sequential of docs/models.md, initialised by PyTorch
and saved as safetensors, gives adjoint the same logits, first-step loss
and gradients of every parameter: float64 to 1e-10, float32 to 1e-5
(relative to the largest value: of the logits, the loss, all gradients).

Cases: a small network with dropout, in evaluation mode, on images
(N, C, H, W); and the Fashion-MNIST network (the defaults) without dropout,
in training mode, on flat rows (N, 784).  And the "autoencoder"
architecture's reconstruction from PyTorch's weights (its gradients are
checked against central differences in tests/test_autoencoder.c).

Then, given the example's path and when Debian's dataset-fashion-mnist is
installed: a model trained by examples/cnn_fmnist.c (a few batches), loaded
into the PyTorch module, gives adjoint's logits on 300 test images (f32, 1e-5).

    torch_cnn.py INTEROP_RUN [CNN_FMNIST]

Exits 77 (skipped) with a reason when torch cannot be imported."""
import gzip
import os
import struct
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import torch_models as tm  # noqa: E402 (exits 77 when torch cannot be imported)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def cnn_module(input, channels, kernel, padding, pool, dense, dropout, classes):
    """The module docs/models.md gives for a "cnn" configuration."""
    layers, (c, h, w) = [], input
    for co in channels:
        layers += [torch.nn.Conv2d(c, co, kernel, padding=padding), torch.nn.ReLU()]
        h, w, c = h + 2 * padding - kernel + 1, w + 2 * padding - kernel + 1, co
        if pool > 1:
            layers.append(torch.nn.MaxPool2d(pool))
            h, w = h // pool, w // pool
    layers.append(torch.nn.Flatten())
    width = c * h * w
    for d in dense:
        layers += [torch.nn.Linear(width, d), torch.nn.ReLU()]
        if dropout > 0:
            layers.append(torch.nn.Dropout(dropout))
        width = d
    layers.append(torch.nn.Linear(width, classes))
    return torch.nn.Sequential(*layers)


def case(exe, tmp, label, cfg, batch, flat, train, dtype):
    torch.manual_seed(5)
    module = cnn_module(**cfg).to(dtype)
    module.train(train)
    x = torch.rand(batch, *cfg["input"], dtype=dtype)
    y = torch.randint(0, cfg["classes"], (batch,))
    logits = module(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    meta = {"format": "pt", "arch": "cnn", "dtype": tm.TORCH_ST[dtype]}
    for k, v in cfg.items():
        meta["config." + k] = ",".join(map(str, v)) if isinstance(v, tuple) else str(v)
    path = os.path.join(tmp, "cnn.safetensors")
    tm.write_st(path, dict(module.state_dict()), meta)
    xin = x.reshape(batch, -1) if flat else x
    got = tm.run(exe, path, {"x": xin, "y": y}, {"mode": "train" if train else "eval"}, tmp)
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    label = "cnn %s (%s)" % (label, tm.TORCH_ST[dtype])
    tm.check(label + ": logits", got["logits"], logits.detach().numpy(), tol)
    tm.check(label + ": loss", got["loss"], loss.item(), tol)
    floor = max(float(p.grad.abs().max()) for p in module.parameters())
    for name, p in module.named_parameters():
        tm.check(label + ": grad " + name, got["grad." + name], p.grad.numpy(), tol, floor)


class Autoencoder(torch.nn.Module):
    """The module docs/models.md gives for "autoencoder"."""

    def __init__(self, input, code, act, output):
        super().__init__()
        self.encoder = torch.nn.Sequential(torch.nn.Linear(input, code), act())
        self.decoder = torch.nn.Sequential(torch.nn.Linear(code, input), output())

    def forward(self, x):
        return self.decoder(self.encoder(x.flatten(1)))


def autoencoder_case(exe, tmp, dtype):
    """torch.nn.Linear weights in adjoint's "autoencoder": the reconstruction."""
    torch.manual_seed(9)
    module = Autoencoder(12, 5, torch.nn.Tanh, torch.nn.Sigmoid).to(dtype)
    x = torch.rand(7, 1, 3, 4, dtype=dtype)
    with torch.no_grad():
        want = module(x).numpy()
    meta = {"format": "pt", "arch": "autoencoder", "dtype": tm.TORCH_ST[dtype], "config.input": "12",
            "config.code": "5", "config.act": "tanh", "config.output": "sigmoid"}
    path = os.path.join(tmp, "ae.safetensors")
    tm.write_st(path, dict(module.state_dict()), meta)
    got = tm.run(exe, path, {"x": x}, {"mode": "eval"}, tmp)
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    tm.check("autoencoder 12-5-12 (%s): reconstruction" % tm.TORCH_ST[dtype], got["logits"], want, tol)


def conv_autoencoder(image, channels, code, act, output):
    """The module docs/models.md gives for a convolutional "autoencoder"."""
    c, h, w = image
    chans = (c,) + tuple(channels)
    sizes = [(h, w)]
    for _ in channels:
        sizes.append(((sizes[-1][0] - 1) // 2 + 1, (sizes[-1][1] - 1) // 2 + 1))
    a = [] if act is None else [act()]
    enc = []
    for i in range(1, len(chans)):
        enc += [torch.nn.Conv2d(chans[i - 1], chans[i], 3, 2, 1)] + [act() for act_ in a]
    flat = chans[-1] * sizes[-1][0] * sizes[-1][1]
    enc += [torch.nn.Flatten(), torch.nn.Linear(flat, code)] + [act() for act_ in a]
    dec = [torch.nn.Linear(code, flat)] + [act() for act_ in a]
    dec += [torch.nn.Unflatten(1, (chans[-1],) + sizes[-1])]
    for i in range(len(chans) - 1, 0, -1):
        op = tuple(sizes[i - 1][k] - (2 * sizes[i][k] - 1) for k in range(2))
        dec += [torch.nn.ConvTranspose2d(chans[i], chans[i - 1], 3, 2, 1, output_padding=op)]
        dec += [act() for act_ in a] if i > 1 else [output()]
    module = torch.nn.Module()
    module.encoder = torch.nn.Sequential(*enc)
    module.decoder = torch.nn.Sequential(*dec)
    module.forward = lambda x: module.decoder(module.encoder(x))
    return module


def conv_autoencoder_case(exe, tmp, dtype, act, act_name):
    """PyTorch's initialisation of a convolutional autoencoder in adjoint: the
    reconstruction (N, C, H, W), and the gradients of the MSE."""
    torch.manual_seed(11)
    module = conv_autoencoder((2, 9, 8), (3, 4), 5, act, torch.nn.Sigmoid).to(dtype)
    x = torch.rand(6, 2, 9, 8, dtype=dtype)
    with torch.no_grad():
        want = module.forward(x).numpy()
    meta = {"format": "pt", "arch": "autoencoder", "dtype": tm.TORCH_ST[dtype], "config.input": "144",
            "config.code": "5", "config.act": act_name, "config.output": "sigmoid",
            "config.channels": "3,4", "config.image": "2,9,8"}
    path = os.path.join(tmp, "cae.safetensors")
    tm.write_st(path, dict(module.state_dict()), meta)
    got = tm.run(exe, path, {"x": x}, {"mode": "eval"}, tmp)
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    tm.check("conv autoencoder 2x9x8 3,4 code 5 %s (%s): reconstruction" % (act_name, tm.TORCH_ST[dtype]),
             got["logits"], want, tol)


def idx_images(path, n):
    """The first n images of a (gzip) IDX file of bytes, as (n, rows * cols) uint8."""
    with gzip.open(path, "rb") as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 0x803, hex(magic)
        n = min(n, count)
        return np.frombuffer(f.read(n * rows * cols), dtype=np.uint8).reshape(n, rows * cols)


def trained_by_adjoint(exe, example, tmp):
    """A cnn trained by examples/cnn_fmnist.c gives, in torch, adjoint's test-set logits."""
    data = "/usr/share/datasets/fashion-mnist"
    images = os.path.join(data, "t10k-images-idx3-ubyte.gz")
    if not os.path.exists(images):
        print("skip trained by adjoint: no Fashion-MNIST in %s (dataset-fashion-mnist)" % data)
        return
    path = os.path.join(tmp, "trained.safetensors")
    subprocess.run([example, "--train-rows", "128", "--test-rows", "10", "--batch", "32",
                    "--epochs", "1", "--out", path], check=True, stdout=subprocess.DEVNULL)
    state, meta = tm.read_st(path)
    assert meta["arch"] == "cnn" and meta["format"] == "pt", meta
    cfg = {k[7:]: v for k, v in meta.items() if k.startswith("config.")}
    ints = lambda v: tuple(int(a) for a in v.split(",") if a)  # noqa: E731
    module = cnn_module(ints(cfg["input"]), ints(cfg["channels"]), int(cfg["kernel"]),
                        int(cfg["padding"]), int(cfg["pool"]), ints(cfg["dense"]),
                        float(cfg["dropout"]), int(cfg["classes"]))
    module.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    module.eval()
    x = torch.from_numpy(idx_images(images, 300).astype(np.float32) / np.float32(255))
    with torch.no_grad():
        want = module(x.reshape(-1, *ints(cfg["input"]))).numpy()
    got = tm.run(exe, path, {"x": x}, {"mode": "eval"}, tmp)
    tm.check("cnn trained by adjoint (F32): 300 test-set logits in torch", got["logits"], want, 1e-5)


def main():
    exe = sys.argv[1]
    small = {"input": (2, 9, 8), "channels": (3, 4), "kernel": 3, "padding": 1, "pool": 2,
             "dense": (5,), "dropout": 0.3, "classes": 4}
    fmnist = {"input": (1, 28, 28), "channels": (32, 64), "kernel": 3, "padding": 1, "pool": 2,
              "dense": (128,), "dropout": 0, "classes": 10}
    with tempfile.TemporaryDirectory() as tmp:
        for dtype in (torch.float64, torch.float32):
            case(exe, tmp, "2x9x8 3,4 dense 5, dropout, eval, images", small, 6, False, False, dtype)
            case(exe, tmp, "Fashion-MNIST net, train, rows", fmnist, 4, True, True, dtype)
            autoencoder_case(exe, tmp, dtype)
            conv_autoencoder_case(exe, tmp, dtype, torch.nn.ReLU, "relu")
            conv_autoencoder_case(exe, tmp, dtype, None, "identity")
        if len(sys.argv) > 2:
            trained_by_adjoint(exe, sys.argv[2], tmp)
    print("torch_cnn: %d failures" % tm.failures)
    sys.exit(1 if tm.failures else 0)


if __name__ == "__main__":
    main()
