#!/usr/bin/python3
"""Convolution, pooling and the CNN training step, adjoint next to PyTorch
(its oneDNN/mkldnn convolutions) in one run, at 1 and 2 threads, float32:

  conv2d 3x3 padding 1 with bias, 1 -> 32 channels on 28x28 and
  32 -> 64 on 14x14 (Fashion-MNIST shapes), batch 64 and 256: forward and
  backward (loss = sum(y * W), whose forward is not timed); the input
  wants a gradient when it has more than one channel (a first layer's
  input does not); PyTorch's side is torch_bench.py conv;
  the CNN training step of bench_cnn.c / torch_bench.py cnn, batch 64
  and 256;
  max_pool2d 2x2 stride 2 on (64, 32, 28, 28): the op's forward and
  backward against a copy of its input (memcpy; bandwidth ratio).

Each workload runs REPS times per engine, alternating which engine goes
first; each run prints medians of per-step wall and process CPU time
(every thread of the process).  The rows give PyTorch / adjoint (> 1:
adjoint faster) as the median over the runs and its range, for CPU time
(which a machine shared with other work disturbs far less) and wall time.

    bench/bench_conv.py [path to bench_conv] [steps] [reps]

Each PyTorch run is a child process, so BLIS_NUM_THREADS (read by BLIS
when it loads) and torch.set_num_threads take the thread count.
"""
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXE = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "build-rel", "bench", "bench_conv")
CNN = os.path.join(os.path.dirname(EXE), "bench_cnn")
STEPS = int(sys.argv[2]) if len(sys.argv) > 2 else 10
REPS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
PY = "/usr/bin/python3"
TB = os.path.join(HERE, "torch_bench.py")
CONVS = [(1, 32, 28), (32, 64, 14)]
BATCHES = [64, 256]

TORCH = r"""
import os, sys, json, statistics, time
th, steps = int(sys.argv[1]), int(sys.argv[2])
os.environ["BLIS_NUM_THREADS"] = str(th)
import torch
import torch.nn.functional as F
torch.set_num_threads(th)
g = torch.Generator().manual_seed(3)
c, hw, batch = map(int, sys.argv[3:6])
x = torch.rand(batch, c, hw, hw, generator=g).mul_(2).sub_(1).requires_grad_(True)
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


def ratios(pairs):
    """median and range of PyTorch / adjoint over the alternated runs"""
    r = sorted(t / a for a, t in pairs)
    return "%.2f [%.2f-%.2f]" % (statistics.median(r), r[0], r[-1])


def main():
    have_torch = subprocess.run([PY, "-c", "import torch"], capture_output=True).returncode == 0
    rows = ["load average before: %.2f %.2f %.2f" % os.getloadavg()]
    for th in (1, 2):
        env = dict(os.environ, BLIS_NUM_THREADS=str(th))
        work = [("conv2d %d->%d %dx%d batch %d" % (ci, co, hw, hw, b),
                 [EXE, "conv", str(ci), str(co), str(hw), str(b), str(th), str(STEPS)],
                 [PY, TB, "conv", str(ci), str(co), str(hw), str(b), str(th), str(STEPS)], "ms", "cpu_ms")
                for b in BATCHES for ci, co, hw in CONVS]
        work += [("cnn step batch %d" % b, [CNN, str(b), str(th), str(STEPS)],
                  [PY, TB, "cnn", str(b), str(th), str(STEPS)], "step_ms", "cpu_ms") for b in BATCHES]
        for label, ours_cmd, theirs_cmd, wall, cpu in work:
            w, c, ours_ms, theirs_ms = [], [], [], []
            for r in range(REPS):
                sides = ["ours", "theirs"] if r % 2 == 0 else ["theirs", "ours"]
                got = {}
                for side in sides:
                    if side == "theirs" and not have_torch:
                        continue
                    got[side] = lines(ours_cmd if side == "ours" else theirs_cmd, env=env)[0]
                    print(json.dumps(got[side]))
                ours_ms.append(got["ours"][cpu])
                if have_torch:
                    w.append((got["ours"][wall], got["theirs"][wall]))
                    c.append((got["ours"][cpu], got["theirs"][cpu]))
                    theirs_ms.append(got["theirs"][cpu])
            row = "%s, %d thread(s): adjoint %.2f ms cpu" % (label, th, statistics.median(ours_ms))
            if have_torch:
                row += ", torch %.2f ms cpu; torch/adjoint cpu %s, wall %s (%d runs)" % (
                    statistics.median(theirs_ms), ratios(c), ratios(w), REPS)
            rows.append(row)
            print(row, file=sys.stderr)
        ours = lines([EXE, "pool", "32", "28", "64", str(th), str(STEPS)])[0]
        print(json.dumps(ours))
        row = ("max_pool2d 2x2 (64,32,28,28), %d thread(s): adjoint fwd %.2f + bwd %.2f ms cpu, "
               "%.1f GB/s vs copy %.1f GB/s: %.0f%% of the copy's bandwidth" % (
                   th, ours["ms_fwd"], ours["ms_bwd"], ours["op_gbs"], ours["copy_gbs"], 100 * ours["bw_ratio"]))
        if have_torch:
            theirs = lines([PY, "-c", TORCH, str(th), str(STEPS), "32", "28", "64"], env=env)[0]
            print(json.dumps(theirs))
            row += "; torch fwd %.2f + bwd %.2f ms cpu: %.2fx" % (theirs["ms_fwd"], theirs["ms_bwd"],
                                                                 theirs["ms"] / ours["ms"])
        rows.append(row)
    rows.append("load average after: %.2f %.2f %.2f" % os.getloadavg())
    if not have_torch:
        rows.append("(torch not importable: no comparison)")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
