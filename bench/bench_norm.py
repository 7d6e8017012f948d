#!/usr/bin/python3
"""Layer norm forward + backward, adjoint next to PyTorch in one run, at 1
and 2 threads, float32: x (64 * 128, 768) wanting a gradient, w and b
(768), y = layer_norm(x, (768,), w, b, 1e-5), backward of a fixed upstream
adjoint (w and b gradients zeroed each step).  Medians of wall time per
step, wall clock and CPU time of the process (steadier on a loaded machine);
the ratio is PyTorch's time over adjoint's (> 1: adjoint is faster).

    bench/bench_norm.py [path to bench_norm] [steps] [runs]

The two engines run alternately `runs` times (default 1; 5 for a claim); the ratios are
reported as median [range].

Each PyTorch run is a child process, so torch.set_num_threads and
BLIS_NUM_THREADS take the thread count before torch loads.
"""
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXE = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "build-rel", "bench", "bench_norm")
STEPS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
REPS = int(sys.argv[3]) if len(sys.argv) > 3 else 1

TORCH = r"""
import os, sys, json, statistics, time
th, steps = int(sys.argv[1]), int(sys.argv[2])
os.environ["BLIS_NUM_THREADS"] = str(th)
import torch
import torch.nn.functional as F
torch.set_num_threads(th)
g = torch.Generator().manual_seed(11)
R, D = 64 * 128, 768
x = (torch.rand(R, D, generator=g) * 4 - 2 + 0.5).requires_grad_(True)
w = torch.nn.Parameter(1 + (torch.rand(D, generator=g) * 2 - 1) * 0.1)
b = torch.nn.Parameter((torch.rand(D, generator=g) * 2 - 1) * 0.1)
up = torch.rand(R, D, generator=g) * 2 - 1
times, cpu = [], []
for r in range(steps + 2):
    t0, c0 = time.perf_counter(), time.process_time()
    w.grad = None; b.grad = None; x.grad = None
    y = F.layer_norm(x, (D,), w, b, 1e-5)
    y.backward(up)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    if r >= 2:
        times.append(dt * 1e3)
        cpu.append(dc * 1e3)
print(json.dumps({"workload": "layer_norm", "engine": "pytorch", "threads": th,
                  "ms_per_step": round(statistics.median(times), 3),
                  "cpu_ms_per_step": round(statistics.median(cpu), 3)}))
"""


HEADERS = set()


def header(line):
    """Print a benchmark's header line ("# ...") once."""
    if line not in HEADERS:
        HEADERS.add(line)
        print(line)


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("# "):
            header(line)
    return json.loads(out.strip().splitlines()[-1])


def spread(pairs):
    """median [range] of PyTorch / adjoint over the alternated runs"""
    r = sorted(t / a for a, t in pairs)
    return "%.2f [%.2f-%.2f]" % (statistics.median(r), r[0], r[-1])


def main():
    sys.path.insert(0, HERE)
    import blis_arch
    header("# bench_norm.py (PyTorch side): %s" % blis_arch.describe())
    print("layer_norm forward + backward, (8192, 768) float32, %d alternated runs of %d steps; "
          "pytorch/adjoint, median [range] (> 1: adjoint is faster)" % (REPS, STEPS))
    print("load average before: %.2f %.2f %.2f" % os.getloadavg())
    for th in (1, 2):
        wall, cpu, ours, theirs = [], [], [], []
        for r in range(REPS):
            order = ("a", "p") if r % 2 == 0 else ("p", "a")
            got = {}
            for side in order:
                got[side] = (run([EXE, str(th), str(STEPS)]) if side == "a" else
                             run(["/usr/bin/python3", "-c", TORCH, str(th), str(STEPS)]))
                print(json.dumps(got[side]))
            a, p = got["a"], got["p"]
            wall.append((a["ms_per_step"], p["ms_per_step"]))
            cpu.append((a["cpu_ms_per_step"], p["cpu_ms_per_step"]))
            ours.append(a["cpu_ms_per_step"])
            theirs.append(p["cpu_ms_per_step"])
        print("%d thread(s): adjoint %.2f ms cpu, pytorch %.2f ms cpu; cpu %s, wall %s"
              % (th, statistics.median(ours), statistics.median(theirs), spread(cpu), spread(wall)))
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
