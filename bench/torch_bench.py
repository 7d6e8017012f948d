#!/usr/bin/python3
"""PyTorch side of the benchmark suite: the workloads of the C benchmarks,
built and timed the same way (same shapes, dtypes, steps and medians),
printing the same JSON lines.  Run with Debian's python3 (python3-torch).

    torch_bench.py chain [nodes] [reps] [w] [b]
    torch_bench.py mlp [batch] [threads] [steps] [memory]
    torch_bench.py tiny [threads] [blocks] [steps per block]
    torch_bench.py elementwise [n] [reps] [threads]
    torch_bench.py gradcheck [threads]
    torch_bench.py embedding [threads] [steps]
    torch_bench.py bmm [threads] [steps]
    torch_bench.py views [threads] [reps]
    torch_bench.py cnn [batch] [threads] [steps]
    torch_bench.py conv CIN COUT HW BATCH [threads] [steps]
    torch_bench.py pool C HW BATCH [threads] [steps]

Threads: torch.set_num_threads(T) sets PyTorch's own (OpenMP) threads; the
matrix products go to the system BLAS, which on Debian is BLIS as for
adjoint, and BLIS takes its thread count from BLIS_NUM_THREADS when it
starts, so that variable is set to T before torch is imported.  BLIS
picks its kernels from the CPU unless BLIS_ARCH_TYPE is set; run.sh sets it
to the sub-configuration adjoint's BLIS runs, so both engines get the same
kernels.  The first line printed is a header ("# ...", not JSON) naming the
PyTorch version, BLIS's sub-configuration and who chose it (as run.sh
says: blis_arch.describe) and the threads.
"""
import json
import os
import resource
import statistics
import sys
import time


def arg(i, default, conv=int):
    return conv(sys.argv[i]) if len(sys.argv) > i else default


def threads_of(cmd):
    pos = {"mlp": 3, "tiny": 2, "elementwise": 4, "gradcheck": 2, "embedding": 2,
           "views": 2, "cnn": 3, "conv": 6, "bmm": 2, "pool": 5}.get(cmd)
    return arg(pos, 1) if pos else 1


CMD = sys.argv[1] if len(sys.argv) > 1 else ""
T = threads_of(CMD)
os.environ["BLIS_NUM_THREADS"] = str(T)

import torch  # noqa: E402  (after the environment is set)
import torch.nn.functional as F  # noqa: E402

import blis_arch  # noqa: E402  (this directory)

torch.set_num_threads(T)
now = time.perf_counter
if CMD:
    print("# torch_bench.py %s: PyTorch %s; %s; threads %d" % (
        CMD, torch.__version__, blis_arch.describe(), T))


def emit(d):
    print(json.dumps(d))
    sys.stdout.flush()


def chain():
    nodes, reps = arg(2, 1000000), arg(3, 7)
    w0, b0 = arg(4, 1.0, float), arg(5, 0.0, float)
    steps = nodes // 3
    rec, back, check = [], [], 0.0
    for r in range(reps + 1):
        t0 = now()
        w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
        b = torch.tensor(b0, dtype=torch.float64, requires_grad=True)
        h = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
        for _ in range(steps):
            h = torch.tanh(w * h + b)
        t1 = now()
        h.backward()
        t2 = now()
        check += w.grad.item()
        del h
        if r > 0:
            rec.append((t1 - t0) * 1e9 / (3 * steps))
            back.append((t2 - t1) * 1e9 / (3 * steps))
    emit({"workload": "scalar_chain", "nodes": 3 * steps,
          "record_ns_per_node": round(statistics.median(rec), 2),
          "backward_ns_per_node": round(statistics.median(back), 2),
          "check": check / (reps + 1)})


def mlp():
    batch, steps = arg(2, 64), arg(4, 200)
    memory = len(sys.argv) > 5 and sys.argv[5] == "memory"
    torch.manual_seed(1)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.rand(batch, 784)
    labels = torch.randint(0, 10, (batch,))

    def step():
        loss = F.cross_entropy(model(x), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    if memory:
        for _ in range(steps):
            loss = step()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        emit({"workload": "mlp_memory", "batch": batch, "threads": T, "steps": steps,
              "peak_rss_mib": round(peak, 1), "allocs_per_step": None,
              "loss": round(loss.item(), 4)})
        return
    for _ in range(20):
        step()
    times = []
    for _ in range(steps):
        t0 = now()
        loss = step()
        times.append(now() - t0)
    med = statistics.median(times)
    emit({"workload": "mlp_step", "batch": batch, "threads": T, "steps": steps,
          "step_ms": round(med * 1e3, 4), "samples_per_s": round(batch / med, 1),
          "loss": round(loss.item(), 4)})


def tiny():
    blocks, per = arg(3, 21), arg(4, 2000)
    torch.manual_seed(3)
    l1, l2 = torch.nn.Linear(2, 8), torch.nn.Linear(8, 1)
    params = list(l1.parameters()) + list(l2.parameters())
    opt = torch.optim.SGD(params, lr=0.1)
    x = torch.tensor([[0., 0.], [0., 1.], [1., 0.], [1., 1.]])
    y = torch.tensor([[0.], [1.], [1.], [0.]])

    def step():
        loss = F.mse_loss(torch.sigmoid(l2(torch.tanh(l1(x)))), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    for _ in range(per):
        loss = step()
    times = []
    for _ in range(blocks):
        t0 = now()
        for _ in range(per):
            loss = step()
        times.append((now() - t0) / per)
    emit({"workload": "tiny_mlp", "threads": T,
          "us_per_step": round(statistics.median(times) * 1e6, 3),
          "loss": round(loss.item(), 5)})


def embedding():
    """The same step as bench_embedding.c: Y = E[idx], E.grad zeroed, the
    backward of a fixed upstream adjoint (dense gradient, as adjoint's)."""
    steps = arg(3, 20)
    V, D, N = 50257, 768, 4096
    torch.manual_seed(7)
    E = torch.nn.Parameter(torch.randn(V, D) * 0.02)
    idx = torch.randint(0, 8192, (N,))
    g = torch.rand(N, D) * 2 - 1
    opt = torch.optim.SGD([E], lr=0.0)
    times = []
    for r in range(steps + 2):
        t0 = now()
        opt.zero_grad()
        y = F.embedding(idx, E)
        y.backward(g)
        dt = now() - t0
        if r >= 2:
            times.append(dt * 1e3)
    emit({"workload": "embedding", "threads": T, "rows": V, "dim": D, "indices": N,
          "ms_per_step": round(statistics.median(times), 3)})


def bmm():
    """The same step as bench_bmm.c: S = Q K^T, O = S V on (4, 8, 128, 64)
    float32 tensors, and the backward of a fixed upstream adjoint W of O."""
    steps = arg(3, 50)
    nb, nh, nt, nd = 4, 8, 128, 64
    torch.manual_seed(7)
    q, k, v, w = (torch.rand(nb, nh, nt, nd) * 2 - 1 for _ in range(4))
    times = []
    for r in range(steps + 3):
        t0 = now()
        Q, K, V = (x.clone().requires_grad_() for x in (q, k, v))
        S = torch.matmul(Q, K.transpose(-1, -2))
        O = torch.matmul(S, V)
        O.backward(w)
        dt = now() - t0
        if r >= 3:
            times.append(dt * 1e3)
    emit({"workload": "bmm", "threads": T, "batch": nb * nh, "T": nt, "D": nd,
          "ms_per_step": round(statistics.median(times), 3)})


# name: (torch function, arity, domain of a, domain of b, backward arrays)
ANY, AWAY0, POS = "any", "away0", "pos"
OPS = {
    "add": (lambda a, b: a + b, 2, ANY, ANY, 3),
    "mul": (lambda a, b: a * b, 2, ANY, ANY, 5),
    "neg": (torch.neg, 1, ANY, None, 3),
    "scale": (lambda a: a * -1.5, 1, ANY, None, 3),
    "exp": (torch.exp, 1, ANY, None, 3),
    "log": (torch.log, 1, POS, None, 3),
    "sqrt": (torch.sqrt, 1, POS, None, 3),
    "square": (torch.square, 1, ANY, None, 3),
    "pow": (lambda a: torch.pow(a, 2.5), 1, POS, None, 3),
    "abs": (torch.abs, 1, AWAY0, None, 3),
    "sin": (torch.sin, 1, ANY, None, 3),
    "cos": (torch.cos, 1, ANY, None, 3),
    "sigmoid": (torch.sigmoid, 1, ANY, None, 3),
    "tanh": (torch.tanh, 1, ANY, None, 3),
    "relu": (torch.relu, 1, AWAY0, None, 3),
    "leaky_relu": (lambda a: F.leaky_relu(a, 0.01), 1, AWAY0, None, 3),
    "elu": (lambda a: F.elu(a, 1.0), 1, AWAY0, None, 3),
    "softplus": (F.softplus, 1, ANY, None, 3),
}


def domain(kind, n):
    if kind == POS:
        return torch.rand(n) * 1.5 + 0.5
    if kind == AWAY0:
        u = torch.rand(n) * 1.8 + 0.2
        return torch.where(torch.rand(n) < 0.5, -u, u)
    return torch.rand(n) * 4 - 2


def elementwise():
    n, reps = arg(2, 1000000), arg(3, 21)
    torch.manual_seed(4)
    dy = torch.rand(n) * 2 - 1
    es = 4
    check = 0.0
    for name, (fn, arity, da, db, nb) in OPS.items():
        ins = [domain(da, n).requires_grad_()]
        if arity == 2:
            ins.append(domain(db, n).requires_grad_())
        fwd, bwd = [], []
        for r in range(reps + 1):
            t0 = now()
            y = fn(*ins)
            t1 = now()
            torch.autograd.grad(y, ins, dy)
            t2 = now()
            check += float(y[r])
            if r > 0:
                fwd.append(t1 - t0)
                bwd.append(t2 - t1)
        tf, tb = statistics.median(fwd), statistics.median(bwd)
        nf = 3 if arity == 2 else 2
        emit({"workload": "elementwise", "op": name, "n": n, "threads": T,
              "fwd_us": round(tf * 1e6, 1), "bwd_us": round(tb * 1e6, 1),
              "fwd_gbs": round(nf * n * es / tf * 1e-9, 2),
              "bwd_gbs": round(nb * n * es / tb * 1e-9, 2)})
    # a broadcast operand, (n / 768, 768) op (768), as bench_elementwise.c
    C = 768
    rows = max(n // C, 1)
    for name, fn, nb in (("add_bcast", torch.add, 2), ("mul_bcast", torch.mul, 3)):
        a = (torch.rand(rows, C) * 4 - 2).requires_grad_()
        b = (torch.rand(C) * 4 - 2).requires_grad_()
        up = torch.rand(rows, C) * 2 - 1
        fwd, bwd = [], []
        for r in range(reps + 1):
            t0 = now()
            y = fn(a, b)
            t1 = now()
            torch.autograd.grad(y, (a, b), up)
            t2 = now()
            check += float(y[0, r % C])
            if r > 0:
                fwd.append(t1 - t0)
                bwd.append(t2 - t1)
        tf, tb = statistics.median(fwd), statistics.median(bwd)
        m = rows * C
        emit({"workload": "elementwise", "op": name, "n": m, "threads": T,
              "fwd_us": round(tf * 1e6, 1), "bwd_us": round(tb * 1e6, 1),
              "fwd_gbs": round(2 * m * es / tf * 1e-9, 2),
              "bwd_gbs": round(nb * m * es / tb * 1e-9, 2)})
    src, dst = torch.rand(n), torch.empty(n)
    times = []
    for r in range(reps + 1):
        t0 = now()
        dst.copy_(src)
        t1 = now()
        if r > 0:
            times.append(t1 - t0)
    tc = statistics.median(times)
    emit({"workload": "elementwise", "op": "copy", "n": n, "threads": T,
          "fwd_us": round(tc * 1e6, 1), "fwd_gbs": round(2 * n * es / tc * 1e-9, 2),
          "check": check})


def gradcheck():
    B, IN, H, OUT = 16, 784, 32, 10
    g = torch.Generator().manual_seed(5)
    d = dict(dtype=torch.float64)
    x = torch.rand(B, IN, generator=g, **d)
    labels = torch.randint(0, OUT, (B,), generator=g)
    w1 = (torch.randn(H, IN, generator=g, **d) * 0.05).requires_grad_()
    b1 = (torch.randn(H, generator=g, **d) * 0.1).requires_grad_()
    w2 = (torch.randn(OUT, H, generator=g, **d) * 0.2).requires_grad_()
    b2 = (torch.randn(OUT, generator=g, **d) * 0.1).requires_grad_()

    def f(w1, b1, w2, b2):
        return F.cross_entropy(F.linear(torch.tanh(F.linear(x, w1, b1)), w2, b2), labels)

    calls = [0]

    def counted(*a):
        calls[0] += 1
        return f(*a)

    t0 = now()
    ok = torch.autograd.gradcheck(counted, (w1, b1, w2, b2), eps=1e-6, atol=1e-5,
                                  rtol=1e-3, raise_exception=False)
    secs = now() - t0
    emit({"workload": "gradcheck", "threads": T,
          "elements": sum(t.numel() for t in (w1, b1, w2, b2)),
          "evaluations": calls[0], "seconds": round(secs, 3), "passed": bool(ok)})


def views():
    """bench_views.c's workloads: record + backward, median ms (float32)."""
    reps = arg(3, 21)
    g = torch.Generator().manual_seed(3)
    d = dict(dtype=torch.float32)

    def timed(name, fn):
        ms, cpu = [], []
        for r in range(reps + 1):
            t0, c0 = now(), time.process_time()
            f = fn()
            f.backward()
            t1, c1 = now(), time.process_time()
            if r > 0:
                ms.append((t1 - t0) * 1e3)
                cpu.append((c1 - c0) * 1e3)
        emit({"workload": name, "threads": T, "step_ms": round(statistics.median(ms), 4),
              "cpu_ms": round(statistics.median(cpu), 4), "check": float(f)})

    x = torch.rand(256, 784, generator=g, **d) * 2 - 1
    w = (torch.rand(256, 784, generator=g, **d) * 2 - 1) * 0.05

    def mm():
        xv, wv = x.clone().requires_grad_(), w.clone().requires_grad_()
        return torch.matmul(xv, wv.t()).sum()
    timed("matmul_tview", mm)
    B, IN, H, OUT = 64, 784, 256, 10
    h0 = torch.rand(B, IN, generator=g, **d)
    sizes = [IN, H, H, OUT]
    ws = [(torch.rand(sizes[k + 1], sizes[k], generator=g, **d) * 2 - 1) * 0.05 for k in range(3)]
    bs = [(torch.rand(sizes[k + 1], generator=g, **d) * 2 - 1) * 0.1 for k in range(3)]
    labels = torch.arange(B) % OUT

    def mlp_step():
        h = h0
        for k in range(3):
            wk, bk = ws[k].clone().requires_grad_(), bs[k].clone().requires_grad_()
            z = torch.matmul(h, wk.t()) + bk
            h = torch.relu(z) if k < 2 else z
        return F.cross_entropy(h, labels)
    timed("mlp_natural", mlp_step)
    e = torch.rand(1024, 1024, generator=g, **d) * 2 - 1
    timed("ew_contig", lambda: torch.exp(e.clone().requires_grad_()).sum())
    timed("ew_tview", lambda: torch.exp(e.clone().requires_grad_().t()).sum())
    a = torch.rand(8, 4, 128, 64, generator=g, **d) * 2 - 1
    b = torch.rand(8, 4, 64, 128, generator=g, **d) * 2 - 1
    timed("bmm", lambda: torch.matmul(a.clone().requires_grad_(), b.clone().requires_grad_()).sum())


def cnn():
    """bench_cnn.c's network and step: the models' default CNN, SGD."""
    batch, steps = arg(2, 64), arg(4, 30)
    torch.manual_seed(1)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(64 * 7 * 7, 128), torch.nn.ReLU(),
        torch.nn.Dropout(0.25), torch.nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.rand(batch, 1, 28, 28)
    labels = torch.randint(0, 10, (batch,))

    def step():
        loss = F.cross_entropy(model(x), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    for _ in range(5):
        step()
    times, cpu = [], []
    for _ in range(steps):
        t0, c0 = now(), time.process_time()
        loss = step()
        times.append(now() - t0)
        cpu.append(time.process_time() - c0)
    med = statistics.median(times)
    emit({"workload": "cnn_step", "batch": batch, "threads": T, "steps": steps,
          "step_ms": round(med * 1e3, 4), "cpu_ms": round(statistics.median(cpu) * 1e3, 4),
          "samples_per_s": round(batch / med, 1), "loss": round(loss.item(), 4)})


def conv():
    """bench_conv.c conv: conv2d 3x3 padding 1 with bias, forward + backward
    (loss sum(y * W); its forward is not timed)."""
    cin, cout, hw, batch = (int(v) for v in sys.argv[2:6])
    steps = arg(7, 20)
    g = torch.Generator().manual_seed(3)

    def rnd(*s, grad=False):
        return torch.rand(*s, generator=g).mul_(2).sub_(1).requires_grad_(grad)

    x = rnd(batch, cin, hw, hw, grad=cin > 1)
    w, b = rnd(cout, cin, 3, 3, grad=True), rnd(cout, grad=True)
    wy = rnd(batch, cout, hw, hw)
    ms, cpu = [], []
    for s in range(-2, steps):
        for v in (x, w, b):
            v.grad = None
        t0, c0 = now(), time.process_time()
        y = F.conv2d(x, w, b, padding=1)
        t1, c1 = now(), time.process_time()
        loss = (y * wy).sum()
        t2, c2 = now(), time.process_time()
        loss.backward()
        if s >= 0:
            ms.append(1e3 * ((t1 - t0) + (now() - t2)))
            cpu.append(1e3 * ((c1 - c0) + (time.process_time() - c2)))
    emit({"workload": "conv2d", "threads": T, "cin": cin, "cout": cout, "hw": hw, "batch": batch,
          "ms": statistics.median(ms), "cpu_ms": statistics.median(cpu), "loss": float(loss)})


def pool():
    """bench_conv.c pool: max_pool2d 2x2 stride 2, forward + backward (seed of
    ones), process CPU time, median ms."""
    c, hw, batch = (int(v) for v in sys.argv[2:5])
    steps = arg(6, 20)
    g = torch.Generator().manual_seed(3)
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
    emit({"bench": "max_pool2d", "impl": "torch", "threads": T, "c": c, "hw": hw,
          "batch": batch, "ms_fwd": f, "ms_bwd": b, "ms": f + b})


if __name__ == "__main__":
    fns = {"chain": chain, "mlp": mlp, "tiny": tiny, "elementwise": elementwise,
           "gradcheck": gradcheck, "embedding": embedding, "views": views,
           "cnn": cnn, "conv": conv, "bmm": bmm, "pool": pool}
    if CMD not in fns:
        sys.exit(__doc__)
    fns[CMD]()
