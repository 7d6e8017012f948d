#!/usr/bin/python3
"""The PyTorch side of `adjoint train --model mlp|cnn|autoencoder` on
Fashion-MNIST: the same modules (docs/models.md), PyTorch's default
initialisation, Adam with a cosine schedule over the planned steps, the same
batch, epochs and threads; per epoch the training loss, the test accuracy (mlp,
cnn) or reconstruction MSE (autoencoder) and the seconds of training.

    fmnist_torch.py [--model cnn] [--conv] [--code 32] [--epochs N] [--batch N]
                    [--threads 2] [--init-out FILE] [--init he_normal] [--stop-at ACC]

mlp is `adjoint train`'s default recipe: 784-512-256-10, each hidden layer
batch norm -> ReLU -> dropout 0.2, batch 128, 20 epochs (the others: batch
64, 5 epochs).  --init-out is for cnn and autoencoder only.

--init he_normal (mlp): the weights drawn as `adjoint train` draws them,
normal with variance 2 / fan_in, and the biases zero, instead of PyTorch's
default initialisation.  --stop-at ACC ends the run after the first epoch
whose test accuracy reaches ACC; the schedule stays planned over all the
epochs, so every step up to there is the full recipe's (run.sh --tta).

--init-out writes the module's initial weights as an adjoint model file, so that
`adjoint train --init FILE` starts from the very same parameters.  The
validation split differs: adjoint holds out a seeded twelfth of the training
images, this script a twelfth drawn by torch's generator.
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np

# BLIS (PyTorch's products) reads its thread count when it starts
for _i, _a in enumerate(sys.argv):
    if _a == "--threads" and _i + 1 < len(sys.argv):
        os.environ["BLIS_NUM_THREADS"] = sys.argv[_i + 1]
import torch  # noqa: E402
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "interop"))
import torch_models as tm  # noqa: E402  (write_st)

DATA = "/usr/share/datasets/fashion-mnist"


def idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        magic = struct.unpack(">I", f.read(4))[0]
        dims = struct.unpack(">" + "I" * (magic & 0xFF), f.read(4 * (magic & 0xFF)))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(dims)


def mlp():
    layers = [torch.nn.Flatten()]
    for fin, fout in ((784, 512), (512, 256)):
        layers += [torch.nn.Linear(fin, fout), torch.nn.BatchNorm1d(fout), torch.nn.ReLU(),
                   torch.nn.Dropout(0.2)]
    return torch.nn.Sequential(*layers, torch.nn.Linear(256, 10))


def cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(64 * 7 * 7, 128), torch.nn.ReLU(),
        torch.nn.Dropout(0.25), torch.nn.Linear(128, 10))


class Autoencoder(torch.nn.Module):
    def __init__(self, code, conv):
        super().__init__()
        if conv:
            self.encoder = torch.nn.Sequential(
                torch.nn.Conv2d(1, 16, 3, 2, 1), torch.nn.ReLU(), torch.nn.Conv2d(16, 32, 3, 2, 1),
                torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(32 * 7 * 7, code),
                *([torch.nn.ReLU()] if code > 2 else []))
            self.decoder = torch.nn.Sequential(
                torch.nn.Linear(code, 32 * 7 * 7), *([torch.nn.ReLU()] if code > 2 else []),
                torch.nn.Unflatten(1, (32, 7, 7)),
                torch.nn.ConvTranspose2d(32, 16, 3, 2, 1, output_padding=1), torch.nn.ReLU(),
                torch.nn.ConvTranspose2d(16, 1, 3, 2, 1, output_padding=1), torch.nn.Sigmoid())
        else:
            self.encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, code),
                                               *([torch.nn.ReLU()] if code > 2 else []))
            self.decoder = torch.nn.Sequential(torch.nn.Linear(code, 784), torch.nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x)).reshape(x.shape)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--conv", action="store_true")
    ap.add_argument("--code", type=int, default=32)
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--init-out")
    ap.add_argument("--train-rows", type=int, default=0, help="only the first N training images")
    ap.add_argument("--no-eval", action="store_true", help="time the training steps only")
    ap.add_argument("--init", choices=["torch", "he_normal"], default="torch")
    ap.add_argument("--stop-at", type=float, help="stop after the epoch reaching this test accuracy")
    a = ap.parse_args()
    if a.epochs is None:
        a.epochs = 20 if a.model == "mlp" else 5
    if a.batch is None:
        a.batch = 128 if a.model == "mlp" else 64
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    ae = a.model == "autoencoder"
    module = Autoencoder(a.code, a.conv) if ae else mlp() if a.model == "mlp" else cnn()
    if a.init == "he_normal":
        with torch.no_grad():
            for m in module.modules():
                if isinstance(m, torch.nn.Linear):
                    torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                    m.bias.zero_()
    if a.init_out and a.model != "mlp":
        if ae:
            cfg = {"input": "784", "code": str(a.code), "act": "relu" if a.code > 2 else "identity",
                   "output": "sigmoid", "channels": "16,32" if a.conv else "", "image": "1,28,28"}
            # the dense encoder's Flatten shifts PyTorch's indices: adjoint's names
            state = {k.replace("encoder.1.", "encoder.0.") if not a.conv else k: v
                     for k, v in module.state_dict().items()}
        else:
            cfg = {"input": "1,28,28", "channels": "32,64", "kernel": "3", "padding": "1",
                   "pool": "2", "dense": "128", "dropout": "0.25", "classes": "10"}
            state = dict(module.state_dict())
        meta = {"format": "pt", "arch": a.model, "dtype": "F32"}
        meta.update({"config." + k: v for k, v in cfg.items()})
        tm.write_st(a.init_out, state, meta)
    x = torch.from_numpy(idx("train-images-idx3-ubyte.gz").astype(np.float32) / 255).unsqueeze(1)
    y = torch.from_numpy(idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    xt = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255).unsqueeze(1)
    yt = torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
    keep = torch.randperm(len(x))[: len(x) - round(len(x) / 12)]
    x, y = x[keep], y[keep]
    if a.train_rows:
        x, y = x[: a.train_rows], y[: a.train_rows]
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    steps = a.epochs * ((len(x) + a.batch - 1) // a.batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    curve = []
    for epoch in range(1, a.epochs + 1):
        module.train()
        order = torch.randperm(len(x))
        t0, total = time.perf_counter(), 0.0
        for i in range(0, len(x), a.batch):
            idx_b = order[i:i + a.batch]
            xb = x[idx_b]
            out = module(xb)
            loss = F.mse_loss(out, xb) if ae else F.cross_entropy(out, y[idx_b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx_b)
        seconds = time.perf_counter() - t0
        if a.no_eval:
            curve.append({"epoch": epoch, "train_loss": total / len(x), "seconds": seconds})
            print(json.dumps(curve[-1]), flush=True)
            continue
        module.eval()
        with torch.no_grad():
            outs = torch.cat([module(xt[i:i + 1000]) for i in range(0, len(xt), 1000)])
            metric = F.mse_loss(outs, xt).item() if ae else (outs.argmax(1) == yt).float().mean().item()
        curve.append({"epoch": epoch, "train_loss": total / len(x), "seconds": seconds,
                      ("test_mse" if ae else "test_accuracy"): metric})
        print(json.dumps(curve[-1]), flush=True)
        if a.stop_at is not None and not ae and metric >= a.stop_at:
            break
    print(json.dumps({"model": a.model, "conv": a.conv, "threads": a.threads, "batch": a.batch,
                      "epochs": a.epochs, "curve": curve}))


if __name__ == "__main__":
    main()
