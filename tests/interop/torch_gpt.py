#!/usr/bin/python3
"""The "gpt" architecture and GPT-2 written in PyTorch (numpy and torch
only; the module is written here, safetensors files by hand):

1. small random configurations, weights drawn by torch and saved as an
   adjoint model file: adjoint's logits, loss and gradients equal
   torch's, float64 to 1e-10 and float32 to 1e-5 (relative to the
   largest value: of the logits, the loss, all gradients);
2. the same weights in the Hugging Face layout (a directory with
   config.json and model.safetensors; with and without the
   "transformer." prefix and an lm_head.weight equal to wte, and once
   with F16 tensors) read by adj_model_load_hf, to the same tolerances,
   and broken directories refused naming the file and the key or tensor;
3. a model trained by `adjoint train --model gpt` reproduces adjoint's
   logits in torch (float32, 1e-5).

    torch_gpt.py INTEROP_RUN ADJOINT

Exits 77 (skipped) with a reason when torch cannot be imported."""
import json
import math
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except Exception as e:  # noqa: BLE001 (any import failure means: skip)
    print("torch_gpt: skipped: cannot import torch and numpy (%s); install python3-torch" % e)
    sys.exit(77)
import torch_models as tm  # noqa: E402 (write_st, read_st, check)


class Conv1D(torch.nn.Module):
    """GPT-2's dense layer: weight stored (in, out), y = x W + b."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.empty(n_in, n_out))
        self.bias = torch.nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return x @ self.weight + self.bias


class Attention(torch.nn.Module):
    def __init__(self, c, n_head):
        super().__init__()
        self.n_head = n_head
        self.c_attn = Conv1D(c, 3 * c)
        self.c_proj = Conv1D(c, c)

    def forward(self, x):
        b, t, c = x.shape
        d = c // self.n_head
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, d).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(d)
        mask = torch.ones(t, t, dtype=torch.bool).tril()
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, c)
        return self.c_proj(y)


class MLP(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = Conv1D(c, 4 * c)
        self.c_proj = Conv1D(4 * c, c)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(torch.nn.Module):
    def __init__(self, c, n_head, eps):
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(c, eps=eps)
        self.attn = Attention(c, n_head)
        self.ln_2 = torch.nn.LayerNorm(c, eps=eps)
        self.mlp = MLP(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2(torch.nn.Module):
    """GPT-2 (pre-LN blocks, tied LM head); state_dict names as GPT2Model's."""

    def __init__(self, vocab, positions, c, layers, n_head, eps=1e-5):
        super().__init__()
        self.wte = torch.nn.Embedding(vocab, c)
        self.wpe = torch.nn.Embedding(positions, c)
        self.h = torch.nn.ModuleList(Block(c, n_head, eps) for _ in range(layers))
        self.ln_f = torch.nn.LayerNorm(c, eps=eps)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for b in self.h:
            x = b(x)
        return self.ln_f(x) @ self.wte.weight.T


CONFIGS = [  # vocab, positions, n_embd, n_layer, n_head, batch, time
    (11, 8, 12, 2, 3, 3, 7),
    (7, 5, 8, 1, 1, 2, 5),
    (13, 16, 16, 3, 4, 2, 16),
    (5, 4, 6, 2, 2, 1, 1),
]


def random_gpt(cfg, dtype, seed):
    """A module with every tensor random (layer norms and biases too)."""
    torch.manual_seed(seed)
    v, p, c, nl, nh = cfg[:5]
    module = GPT2(v, p, c, nl, nh).to(dtype)
    with torch.no_grad():
        for name, t in module.named_parameters():
            if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
                t.copy_(1 + 0.3 * torch.randn_like(t))
            else:
                t.copy_(0.4 * torch.randn_like(t))
    return module


def reference(module, x, y):
    module.zero_grad()
    logits = module(x)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    loss.backward()
    return logits.detach().numpy(), loss.item()


def compare(label, got, module, logits, loss, tol):
    tm.check(label + ": logits", got["logits"], logits, tol)
    tm.check(label + ": loss", got["loss"], loss, tol)
    floor = max(float(p.grad.abs().max()) for p in module.parameters())
    for name, p in module.named_parameters():
        tm.check(label + ": grad " + name, got["grad." + name], p.grad.numpy(), tol, floor)


def config_meta(cfg, dtype):
    v, p, c, nl, nh = cfg[:5]
    return {"format": "pt", "arch": "gpt", "dtype": tm.TORCH_ST[dtype], "config.vocab_size": str(v),
            "config.n_positions": str(p), "config.n_embd": str(c), "config.n_layer": str(nl),
            "config.n_head": str(nh)}


def adjoint_file(exe, tmp):
    """torch weights as an adjoint model file: logits, loss and gradients."""
    for k, cfg in enumerate(CONFIGS):
        for dtype in (torch.float64, torch.float32):
            module = random_gpt(cfg, dtype, 100 + k)
            g = torch.Generator().manual_seed(k)
            x = torch.randint(0, cfg[0], (cfg[5], cfg[6]), generator=g)
            y = torch.randint(0, cfg[0], (cfg[5], cfg[6]), generator=g)
            logits, loss = reference(module, x, y)
            path = os.path.join(tmp, "gpt.safetensors")
            tm.write_st(path, dict(module.state_dict()), config_meta(cfg, dtype))
            got = tm.run(exe, path, {"x": x, "y": y}, {"mode": "train"}, tmp)
            tol = 1e-10 if dtype == torch.float64 else 1e-5
            compare("gpt %s (%s)" % (cfg[:5], tm.TORCH_ST[dtype]), got, module, logits, loss, tol)


def hf_dir(path, module, cfg, prefix="", extra=None, drop=None, config=None):
    """module as a Hugging Face GPT-2 directory: config.json, model.safetensors."""
    os.makedirs(path, exist_ok=True)
    v, p, c, nl, nh = cfg[:5]
    conf = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": v,
            "n_positions": p, "n_ctx": p, "n_embd": c, "n_layer": nl, "n_head": nh,
            "n_inner": None, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
            "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1}
    conf.update(config or {})
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(conf, f, indent=2)
    state = {prefix + k: t for k, t in module.state_dict().items()}
    for i in range(nl):  # the causal-mask buffers older checkpoints carry
        state[prefix + "h.%d.attn.bias" % i] = torch.ones(1, 1, p, p).tril()
    state.update(extra or {})
    for k in drop or []:
        del state[k]
    tm.write_st(os.path.join(path, "model.safetensors"), state, {"format": "pt"})


def fails(exe, path, inputs, words, tmp):
    """interop_run on path must fail with all the words in its message."""
    global_fail = 0
    src, out = os.path.join(tmp, "in.safetensors"), os.path.join(tmp, "out.safetensors")
    tm.write_st(src, inputs, {"dtype": "F32"})
    r = subprocess.run([exe, path, src, out], capture_output=True, text=True)
    missing = [w for w in words if w not in r.stderr]
    if r.returncode == 0 or missing:
        print("FAIL %s: exit %d, words %s not in: %s" % (path, r.returncode, missing, r.stderr.strip()))
        global_fail = 1
    else:
        print("ok   refused: %s" % r.stderr.strip())
    tm.failures += global_fail


def hugging_face(exe, tmp):
    """The same weights in the Hugging Face layout, read by adj_model_load_hf."""
    for k, cfg in enumerate(CONFIGS[:3]):
        for dtype in (torch.float64, torch.float32):
            for prefix in ("", "transformer."):
                module = random_gpt(cfg, dtype, 200 + k)
                g = torch.Generator().manual_seed(50 + k)
                x = torch.randint(0, cfg[0], (cfg[5], cfg[6]), generator=g)
                y = torch.randint(0, cfg[0], (cfg[5], cfg[6]), generator=g)
                logits, loss = reference(module, x, y)
                d = os.path.join(tmp, "hf%d%s" % (k, prefix))
                extra = {"lm_head.weight": module.wte.weight.detach().clone()} if prefix else None
                hf_dir(d, module, cfg, prefix, extra)
                got = tm.run(exe, d, {"x": x, "y": y}, {"mode": "train", "dtype": tm.TORCH_ST[dtype]}, tmp)
                tol = 1e-10 if dtype == torch.float64 else 1e-5
                label = "Hugging Face directory%s %s (%s)" % (" (transformer.)" if prefix else "",
                                                             cfg[:5], tm.TORCH_ST[dtype])
                compare(label, got, module, logits, loss, tol)
    # an F16 checkpoint: converted to F32 on load, exactly
    tm.TORCH_ST[torch.float16] = "F16"
    cfg = CONFIGS[2]
    module = random_gpt(cfg, torch.float32, 250)
    half = {k: t.detach().half() for k, t in module.state_dict().items()}
    with torch.no_grad():
        for k, t in module.state_dict().items():
            t.copy_(half[k].float())
    d = os.path.join(tmp, "hf-f16")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"vocab_size": cfg[0], "n_positions": cfg[1], "n_embd": cfg[2], "n_layer": cfg[3],
                   "n_head": cfg[4]}, f)
    tm.write_st(os.path.join(d, "model.safetensors"), half, {"format": "pt"})
    g = torch.Generator().manual_seed(77)
    x = torch.randint(0, cfg[0], (cfg[5], cfg[6]), generator=g)
    y = torch.randint(0, cfg[0], (cfg[5], cfg[6]), generator=g)
    logits, loss = reference(module, x, y)
    got = tm.run(exe, d, {"x": x, "y": y}, {"mode": "train", "dtype": "F32"}, tmp)
    compare("Hugging Face directory, F16 tensors %s (F32)" % (cfg[:5],), got, module, logits, loss, 1e-5)
    cfg = CONFIGS[0]
    module = random_gpt(cfg, torch.float32, 300)
    x = {"x": torch.zeros(1, 3, dtype=torch.int64)}
    d = os.path.join(tmp, "bad")
    hf_dir(d, module, cfg, extra={"lm_head.weight": torch.zeros(cfg[0], cfg[2])})
    fails(exe, d, x, ["model.safetensors", "lm_head.weight"], tmp)
    hf_dir(d, module, cfg, drop=["h.1.mlp.c_fc.bias"])
    fails(exe, d, x, ["model.safetensors", "h.1.mlp.c_fc.bias", "missing"], tmp)
    hf_dir(d, module, cfg, extra={"h.0.attn.rotary": torch.zeros(2)})
    fails(exe, d, x, ["model.safetensors", "h.0.attn.rotary", "unexpected"], tmp)
    hf_dir(d, module, cfg, config={"vocab_size": cfg[0] + 1})
    fails(exe, d, x, ["model.safetensors", "wte.weight", "shape"], tmp)
    hf_dir(d, module, cfg, config={"n_layer": "two"})
    fails(exe, d, x, ["config.json", "n_layer"], tmp)
    hf_dir(d, module, cfg, config={"activation_function": "relu"})
    fails(exe, d, x, ["config.json", "activation_function"], tmp)
    hf_dir(d, module, cfg, config={"n_layer": 3000000})
    fails(exe, d, x, ["config.json", "n_layer"], tmp)
    hf_dir(d, module, cfg, config={"n_layer": 200})
    fails(exe, d, x, ["model.safetensors", "parameters"], tmp)
    os.remove(os.path.join(d, "config.json"))
    fails(exe, d, x, ["config.json", "cannot open"], tmp)


def trained_by_adjoint(adjoint, exe, tmp):
    """A model trained by `adjoint train --model gpt`, in torch: the same logits."""
    words = os.path.join(tmp, "words")
    with open(words, "w") as f:
        for i in range(300):
            f.write(["cat", "tac", "act", "attic", "tact"][i % 5] + "\n")
    run_dir = os.path.join(tmp, "gptrun")
    subprocess.run([adjoint, "train", "--model", "gpt", "--data", "text:" + words, "--embed", "16",
                    "--layers", "2", "--heads", "2", "--seq", "8", "--batch", "8", "--steps", "20",
                    "--threads", "1", "--out", run_dir, "--quiet"], check=True)
    path = os.path.join(run_dir, "model.safetensors")
    state, meta = tm.read_st(path)
    assert meta["arch"] == "gpt", meta
    cfg = tuple(int(meta["config." + k]) for k in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head"))
    module = GPT2(*cfg, eps=float(meta["config.layer_norm_epsilon"]))
    module.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()}, strict=True)
    g = torch.Generator().manual_seed(5)
    x = torch.randint(0, cfg[0], (4, cfg[1]), generator=g)
    with torch.no_grad():
        want = module(x).numpy()
    got = tm.run(exe, path, {"x": x}, {"mode": "eval"}, tmp)
    tm.check("trained by adjoint %s, logits in torch (f32)" % (cfg,), got["logits"], want, 1e-5)


def main():
    exe, adjoint = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        adjoint_file(exe, tmp)
        hugging_face(exe, tmp)
        trained_by_adjoint(adjoint, exe, tmp)
    print("torch_gpt: %d failures" % tm.failures)
    sys.exit(1 if tm.failures else 0)


if __name__ == "__main__":
    main()
