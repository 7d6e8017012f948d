#!/usr/bin/python3
"""Convolution and pooling forward + backward, adjoint next to PyTorch
(its oneDNN/mkldnn convolutions) in one run, at 1 and 2 threads, float32:

  conv2d 3x3 padding 1 with bias, 1 -> 32 channels on 28x28 and
  32 -> 64 on 14x14 (Fashion-MNIST shapes), batch 64 and 256,
  loss = sum(y * W); the input wants a gradient when it has more than one
  channel (a first layer's input does not);
  max_pool2d 2x2 stride 2 on (64, 32, 28, 28): the op's forward and
  backward against a copy of its input (memcpy; bandwidth ratio).

Times are medians of per-step process CPU time (every thread of the
process), which a machine shared with other work disturbs far less than
wall time; wall-time medians are printed too.

    bench/bench_conv.py [path to bench_conv] [steps]

Each PyTorch run is a child process, so BLIS_NUM_THREADS (read by BLIS
when it loads) and torch.set_num_threads take the thread count.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXE = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "build-rel", "bench", "bench_conv")
STEPS = int(sys.argv[2]) if len(sys.argv) > 2 else 10
CONVS = [(1, 32, 28), (32, 64, 14)]
BATCHES = [64, 256]

TORCH = r"""
import os, sys, json, statistics, time
what, th, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.environ["BLIS_NUM_THREADS"] = str(th)
import torch
import torch.nn.functional as F
torch.set_num_threads(th)
g = torch.Generator().manual_seed(3)
def rnd(*s, grad=False):
    return torch.rand(*s, generator=g).mul_(2).sub_(1).requires_grad_(grad)
ms, cpu = [], []
if what == "conv":
    cin, cout, hw, batch = map(int, sys.argv[4:8])
    x = rnd(batch, cin, hw, hw, grad=cin > 1)
    w, b = rnd(cout, cin, 3, 3, grad=True), rnd(cout, grad=True)
    wy = rnd(batch, cout, hw, hw)
    for s in range(-2, steps):
        for v in (x, w, b):
            v.grad = None
        t0, c0 = time.perf_counter(), time.process_time()
        y = F.conv2d(x, w, b, padding=1)
        t1, c1 = time.perf_counter(), time.process_time()
        loss = (y * wy).sum()
        t2, c2 = time.perf_counter(), time.process_time()
        loss.backward()
        if s >= 0:
            ms.append(1e3 * ((t1 - t0) + (time.perf_counter() - t2)))
            cpu.append(1e3 * ((c1 - c0) + (time.process_time() - c2)))
    print(json.dumps({"bench": "conv2d", "impl": "torch", "threads": th, "cin": cin, "cout": cout,
                      "hw": hw, "batch": batch, "ms": statistics.median(ms),
                      "cpu_ms": statistics.median(cpu), "loss": float(loss)}))
else:
    c, hw, batch = map(int, sys.argv[4:7])
    x = rnd(batch, c, hw, hw, grad=True)
    fwd, bwd = [], []
    for s in range(-2, steps):
        x.grad = None
        c0 = time.process_time()
        y = F.max_pool2d(x, 2, 2)
        c1 = time.process_time()
        y.backward(torch.ones_like(y))
        c2 = time.process_time()
        if s >= 0:
            fwd.append(1e3 * (c1 - c0))
            bwd.append(1e3 * (c2 - c1))
    f, b = statistics.median(fwd), statistics.median(bwd)
    print(json.dumps({"bench": "max_pool2d", "impl": "torch", "threads": th, "c": c, "hw": hw,
                      "batch": batch, "ms_fwd": f, "ms_bwd": b, "ms": f + b}))
"""


def lines(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return [json.loads(x) for x in out.splitlines() if x.startswith("{")]


def main():
    have_torch = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode == 0
    rows = []
    for th in (1, 2):
        env = dict(os.environ, BLIS_NUM_THREADS=str(th))
        for cin, cout, hw in CONVS:
            for batch in BATCHES:
                ours = lines([EXE, "conv", str(cin), str(cout), str(hw), str(batch), str(th), str(STEPS)])[0]
                print(json.dumps(ours))
                row = "conv2d %d->%d %dx%d batch %d, %d thread(s): adjoint %.1f ms cpu (%.1f wall)" % (
                    cin, cout, hw, hw, batch, th, ours["cpu_ms"], ours["ms"])
                if have_torch:
                    theirs = lines([sys.executable, "-c", TORCH, "conv", str(th), str(STEPS), str(cin), str(cout),
                                    str(hw), str(batch)], env=env)[0]
                    print(json.dumps(theirs))
                    row += ", torch %.1f ms cpu (%.1f wall): %.2fx (cpu), %.2fx (wall)" % (
                        theirs["cpu_ms"], theirs["ms"], theirs["cpu_ms"] / ours["cpu_ms"],
                        theirs["ms"] / ours["ms"])
                rows.append(row)
        ours = lines([EXE, "pool", "32", "28", "64", str(th), str(STEPS)])[0]
        print(json.dumps(ours))
        row = ("max_pool2d 2x2 (64,32,28,28), %d thread(s): adjoint fwd %.2f + bwd %.2f ms cpu, "
               "%.1f GB/s vs copy %.1f GB/s: %.0f%% of the copy's bandwidth" % (
                   th, ours["ms_fwd"], ours["ms_bwd"], ours["op_gbs"], ours["copy_gbs"], 100 * ours["bw_ratio"]))
        if have_torch:
            theirs = lines([sys.executable, "-c", TORCH, "pool", str(th), str(STEPS), "32", "28", "64"], env=env)[0]
            print(json.dumps(theirs))
            row += "; torch fwd %.2f + bwd %.2f ms cpu: %.2fx" % (theirs["ms_fwd"], theirs["ms_bwd"],
                                                                 theirs["ms"] / ours["ms"])
        rows.append(row)
    if not have_torch:
        rows.append("(torch not importable: no comparison)")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
