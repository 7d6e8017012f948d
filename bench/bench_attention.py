#!/usr/bin/python3
"""Attention forward + backward, adjoint's fused op next to PyTorch's
composed attention (Debian's PyTorch 1.13 has no fused CPU attention), in
one run, at 1 and 2 threads: B=8, H=4, T=128, D=32, float32, causal,
loss = sum(O * W).  Then the fused op's peak arena bytes for T = 128, 256,
512 and PyTorch's composed attention's peak resident growth for the same.

    bench/bench_attention.py [path to bench_attention] [steps]

Each PyTorch run is a child process, so BLIS_NUM_THREADS (read by BLIS
when it loads) and torch.set_num_threads take the thread count.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXE = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "build", "bench", "bench_attention")
STEPS = int(sys.argv[2]) if len(sys.argv) > 2 else 50
B, H, T, D = 8, 4, 128, 32

TORCH = r"""
import os, sys, json, statistics, time
th, steps, B, H, T, D = map(int, sys.argv[1:7])
os.environ["BLIS_NUM_THREADS"] = str(th)
import torch
torch.set_num_threads(th)
g = torch.Generator().manual_seed(7)
def mk(grad):
    return torch.rand(B, H, T, D, generator=g).mul_(2).sub_(1).requires_grad_(grad)
q, k, v, w = mk(True), mk(True), mk(True), mk(False)
keep = torch.ones(T, T, dtype=torch.bool).tril()
scale = D ** -0.5
ms, cpu = [], []
for s in range(-3, steps):
    for x in (q, k, v):
        x.grad = None
    t0, c0 = time.perf_counter(), time.process_time()
    sc = (q @ k.transpose(-2, -1)) * scale
    p = torch.softmax(sc.masked_fill(~keep, float("-inf")), dim=-1)
    loss = ((p @ v) * w).sum()
    loss.backward()
    if s >= 0:
        ms.append(1e3 * (time.perf_counter() - t0))
        cpu.append(1e3 * (time.process_time() - c0))
print(json.dumps({"bench": "attention", "impl": "torch", "threads": th, "B": B, "H": H, "T": T,
                  "D": D, "ms": statistics.median(ms), "cpu_ms": statistics.median(cpu),
                  "loss": float(loss)}))
"""


HEADERS = set()


def header(line):
    """Print a benchmark's header line ("# ...") once."""
    if line not in HEADERS:
        HEADERS.add(line)
        print(line)


def lines(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    for x in out.splitlines():
        if x.startswith("# "):
            header(x)
    return [json.loads(x) for x in out.splitlines() if x.startswith("{")]


def main():
    have_torch = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode == 0
    if have_torch:
        sys.path.insert(0, HERE)
        import blis_arch
        header("# bench_attention.py (PyTorch side): %s" % blis_arch.describe())
    for th in (1, 2):
        ours = lines([EXE, str(th), str(STEPS), str(B), str(H), str(T), str(D)])
        for d in ours:
            print(json.dumps(d))
        row = "threads %d: adjoint %.3f ms" % (th, ours[0]["ms"])
        if have_torch:
            theirs = lines([sys.executable, "-c", TORCH, str(th), str(STEPS), str(B), str(H), str(T), str(D)],
                           env=dict(os.environ, BLIS_NUM_THREADS=str(th)))[0]
            print(json.dumps(theirs))
            row += ", torch %.3f ms, speedup %.2fx (CPU time: %.3f vs %.3f ms, %.2fx)" % (
                theirs["ms"], theirs["ms"] / ours[0]["ms"], ours[0]["cpu_ms"], theirs["cpu_ms"],
                theirs["cpu_ms"] / ours[0]["cpu_ms"])
        else:
            row += " (torch not importable: no comparison)"
        print(row)
    mem = [d for d in ours if d["bench"] == "attention_memory"]
    print("peak arena bytes (fwd+bwd, B=%d H=%d D=%d, blocks of 64): " % (B, H, D) +
          ", ".join("T=%d: %d (%.2f x one (B,H,T,D) tensor)" % (d["T"], d["peak_bytes"],
                                                                 d["peak_bytes"] / d["tensor_bytes"])
                    for d in mem))


if __name__ == "__main__":
    main()
