#!/usr/bin/python3
"""The PyTorch side of `adjoint train --model rnn|lstm|gru|gpt` and of
examples/gpt_chars.c: the same module (docs/models.md; for gpt, GPT-2 as
written in tests/interop/torch_gpt.py), the same data rules (bytes of the
file, lines split by a shuffle: Python's, so not the same lines), Adam on
random (B, T) windows, the mean validation cross-entropy over 20 batches of
windows, and the training speed in tokens per second.  --init FILE starts
from the weights of an adjoint model file (gpt_chars --init-out FILE);
--init-out FILE writes the module's initial weights (PyTorch's default
initialisation from --seed) as an adjoint model file of the rnn, lstm or gru
architecture, for `adjoint train --model KIND --init FILE`.

    char_lm_torch.py [--model gru] [--steps 100] [--threads 1] [--init FILE]
                     [--init-out FILE] [--seed 1] [FILE]
"""
import argparse
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F


class CharModel(torch.nn.Module):
    def __init__(self, kind, vocab, embed, hidden, layers):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, embed)
        self.rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](
            embed, hidden, layers, batch_first=True)
        self.head = torch.nn.Linear(hidden, vocab)

    def forward(self, x):
        return self.head(self.rnn(self.embed(x))[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file", nargs="?", default="/usr/share/dict/words")
    ap.add_argument("--model", default="gru")
    ap.add_argument("--embed", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--seq", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--init", default=None)
    ap.add_argument("--init-out", default=None)
    ap.add_argument("--seed", type=int, default=1, help="torch's seed: initialisation and windows")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    data = open(a.file, "rb").read()
    chars = sorted(set(data))
    ids = {c: i for i, c in enumerate(chars)}
    lines = data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n")
    order = list(range(len(lines)))
    random.Random(1).shuffle(order)
    val_set = set(order[:round(0.1 * len(lines))])
    train = torch.tensor([ids[c] for i, ln in enumerate(lines) if i not in val_set for c in ln + b"\n"])
    val = torch.tensor([ids[c] for i, ln in enumerate(lines) if i in val_set for c in ln + b"\n"])
    if a.model == "gpt":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "interop"))
        import torch_gpt
        model = torch_gpt.GPT2(len(chars), a.seq, a.embed, a.layers, a.heads)
        with torch.no_grad():  # GPT-2's initialisation
            for name, t in model.named_parameters():
                if ".ln_" in name or name.startswith("ln_f"):
                    t.fill_(1.0 if name.endswith("weight") else 0.0)
                elif name.endswith("bias"):
                    t.zero_()
                else:
                    t.normal_(0, 0.02 / math.sqrt(2 * a.layers) if name.endswith("c_proj.weight") else 0.02)
    else:
        model = CharModel(a.model, len(chars), a.embed, a.hidden, a.layers)
    if a.init:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "interop"))
        import torch_models
        state, meta = torch_models.read_st(a.init)
        model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()}, strict=True)
    if a.init_out:
        if a.model == "gpt":
            sys.exit("char_lm_torch.py: --init-out takes rnn, lstm or gru (gpt_chars writes a gpt's)")
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "interop"))
        import torch_models
        cfg = {"vocab": len(chars), "embed": a.embed, "hidden": a.hidden, "layers": a.layers,
               "chars": "".join("%02x" % c for c in chars)}
        meta = {"format": "pt", "arch": a.model, "dtype": "F32"}
        meta.update({"config." + k: str(v) for k, v in cfg.items()})
        torch_models.write_st(a.init_out, dict(model.state_dict()), meta)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)

    def batch(part):
        s = torch.randint(0, len(part) - a.seq, (a.batch,))
        w = torch.stack([part[i:i + a.seq + 1] for i in s.tolist()])
        return w[:, :-1], w[:, 1:]

    t0, loss = time.perf_counter(), torch.tensor(float("nan"))
    for _ in range(a.steps):
        x, y = batch(train)
        loss = F.cross_entropy(model(x).reshape(-1, len(chars)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    dt = time.perf_counter() - t0
    with torch.no_grad():
        vl = sum(F.cross_entropy(model(x).reshape(-1, len(chars)), y.reshape(-1)).item()
                 for x, y in (batch(val) for _ in range(20))) / 20
    print("torch %s: %d steps, train loss %.4f, validation loss %.4f nats per token (%.4f bits), "
          "%.1f s, %.0f tokens/s" % (a.model, a.steps, loss.item(), vl, vl / math.log(2), dt,
                                     a.steps * a.batch * a.seq / dt))


if __name__ == "__main__":
    main()
