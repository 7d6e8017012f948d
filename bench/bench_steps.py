#!/usr/bin/python3
"""PyTorch side of bench_gpt.c and bench_rnn.c: the same models, steps,
shapes and medians, printing the same JSON line.

    bench_steps.py gpt [threads] [steps] [batch] [time]
    bench_steps.py lstm|gru [threads] [steps] [batch] [time]

gpt is tests/interop/torch_gpt.py's GPT-2 (n_layer 4, n_embd 128, n_head
4, vocabulary 65, GPT-2's initialisation as char_lm_torch.py) with AdamW
lr 3e-4; its attention is written out as there (this PyTorch has no
F.scaled_dot_product_attention).
lstm and gru are char_lm_torch.py's CharModel (embedding 32, one layer of
hidden 128, vocabulary 28) with Adam lr 3e-3.  One fixed random batch;
5 warm-up steps, then `steps` timed one by one.

Threads: torch.set_num_threads(T), and BLIS_NUM_THREADS=T before torch
is imported (Debian's PyTorch gets its products from BLIS).  The first
line printed is a header ("# ...") naming the BLIS kernels, as torch_bench.py.
"""
import json
import math
import os
import resource
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ARGS = sys.argv[1:]


def arg(i, default):
    return int(ARGS[i]) if len(ARGS) > i else default


KIND = ARGS[0] if ARGS else ""
T_ = arg(1, 1)
os.environ["BLIS_NUM_THREADS"] = str(T_)

import torch  # noqa: E402  (after the environment is set)
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(T_)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "interop"))
import blis_arch  # noqa: E402

if KIND:
    print("# bench_steps.py %s: PyTorch %s; %s; threads %d" % (KIND, torch.__version__,
                                                               blis_arch.describe(), T_))
    sys.stdout.flush()


def build(kind):
    torch.manual_seed(1)
    if kind == "gpt":
        import torch_gpt
        vocab, layers = 65, 4
        model = torch_gpt.GPT2(vocab, arg(4, 64), 128, layers, 4)
        with torch.no_grad():  # GPT-2's initialisation
            for name, t in model.named_parameters():
                if ".ln_" in name or name.startswith("ln_f"):
                    t.fill_(1.0 if name.endswith("weight") else 0.0)
                elif name.endswith("bias"):
                    t.zero_()
                else:
                    t.normal_(0, 0.02 / math.sqrt(2 * layers) if name.endswith("c_proj.weight") else 0.02)
        return model, vocab, torch.optim.AdamW(model.parameters(), lr=3e-4)
    from char_lm_torch import CharModel
    vocab = 28
    model = CharModel(kind, vocab, 32, 128, 1)
    return model, vocab, torch.optim.Adam(model.parameters(), lr=3e-3)


def main():
    if KIND not in ("gpt", "lstm", "gru"):
        sys.exit(__doc__)
    steps = arg(2, 20)
    batch, tm = arg(3, 16 if KIND == "gpt" else 32), arg(4, 64 if KIND == "gpt" else 32)
    model, vocab, opt = build(KIND)
    x = torch.randint(0, vocab, (batch, tm))
    y = torch.randint(0, vocab, (batch * tm,))

    def step():
        loss = F.cross_entropy(model(x).reshape(-1, vocab), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    for _ in range(5):
        step()
    times, cpu = [], []
    for _ in range(steps):
        t0, c0 = time.perf_counter(), time.process_time()
        loss = step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    med = statistics.median(times)
    variant = "composed" if KIND == "gpt" else "module"
    print(json.dumps({"workload": KIND + "_step", "variant": variant, "batch": batch, "time": tm,
                      "threads": T_, "steps": steps, "ms_per_step": round(med * 1e3, 4),
                      "cpu_ms": round(statistics.median(cpu) * 1e3, 4),
                      "samples_per_s": round(batch / med, 1),
                      "tokens_per_s": round(batch * tm / med, 1),
                      "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                      "loss": round(loss.item(), 4)}))


if __name__ == "__main__":
    main()
