#!/usr/bin/python3
"""The GPT, LSTM and GRU training steps, adjoint (bench_gpt, bench_rnn)
against PyTorch (bench_steps.py), alternating the two engines (the order
flips every round) so that drift on a shared machine hits both alike.
Prints, per workload and thread count, each engine's median ms per step
and PyTorch time / adjoint time as median [range] over the rounds, by
wall clock and by process CPU time, with the load average before and
after.

    compare_steps.py [--build build-rel] [--rounds 5] [--steps 20]
                     [--threads "1 2"] [--workloads "gpt lstm gru"] [--json FILE]
                     [--torch-blis same|own]

PyTorch's processes run the BLIS sub-configuration that adjoint reports
(BLIS_ARCH_TYPE, as bench/run.sh sets it) unless --torch-blis own or
BLIS_ARCH_TYPE is already set: BLIS's own choice can be far slower on a
CPU it does not recognise, which would flatter adjoint.

Workload gpt-written is bench_gpt's "written" variant (the model's forward
written with public ops in the benchmark) against the same PyTorch model.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads([ln for ln in out.splitlines() if ln.startswith("{")][-1])


def load():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def torch_env(build, mode):
    """The environment for PyTorch's processes: adjoint's BLIS
    sub-configuration, or the caller's environment as it is."""
    env = dict(os.environ)
    if mode != "same" or "BLIS_ARCH_TYPE" in env:
        return env
    info = subprocess.run([os.path.join(build, "tools", "adjoint"), "info"], check=True,
                          capture_output=True, text=True).stdout
    arch = info.split("sub-configuration ", 1)[1].split()[0].rstrip(",") if "sub-configuration " in info else ""
    got = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "blis_arch.py"), arch],
                         capture_output=True, text=True)
    if got.returncode == 0 and got.stdout.strip():
        env["BLIS_ARCH_TYPE"] = got.stdout.strip()
        print("PyTorch's BLIS: sub-configuration %s (BLIS_ARCH_TYPE=%s), as adjoint's"
              % (arch, env["BLIS_ARCH_TYPE"]), file=sys.stderr)
    return env


def fmt(v):
    return "%.2f [%.2f-%.2f]" % (statistics.median(v), min(v), max(v))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build-rel"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", default="1 2")
    ap.add_argument("--workloads", default="gpt lstm gru")
    ap.add_argument("--json", default=None)
    ap.add_argument("--torch-blis", choices=("same", "own"), default="same")
    a = ap.parse_args()
    tenv = torch_env(a.build, a.torch_blis)
    rows = []
    for w in a.workloads.split():
        for t in a.threads.split():
            kind = w.split("-")[0]
            if kind == "gpt":  # gpt-written: bench_gpt's variant of that name
                ours = [os.path.join(a.build, "bench", "bench_gpt"), t, str(a.steps), "16", "64",
                        w.split("-")[1] if "-" in w else "natural"]
            else:
                ours = [os.path.join(a.build, "bench", "bench_rnn"), w, t, str(a.steps)]
            theirs = ["/usr/bin/python3", os.path.join(HERE, "bench_steps.py"), kind, t, str(a.steps)]
            l0 = load()
            res = {"adjoint": [], "pytorch": []}
            for r in range(a.rounds):
                order = (("adjoint", ours), ("pytorch", theirs))
                for name, cmd in (order if r % 2 == 0 else order[::-1]):
                    res[name].append(run(cmd, tenv if name == "pytorch" else None))
            wall = [p["ms_per_step"] / q["ms_per_step"] for p, q in zip(res["pytorch"], res["adjoint"])]
            cpu = [p["cpu_ms"] / q["cpu_ms"] for p, q in zip(res["pytorch"], res["adjoint"])]
            row = {"workload": w.replace("-", "_") + "_step", "threads": int(t), "rounds": a.rounds, "load": [l0, load()],
                   "adjoint_ms": statistics.median(q["ms_per_step"] for q in res["adjoint"]),
                   "pytorch_ms": statistics.median(p["ms_per_step"] for p in res["pytorch"]),
                   "ratio_wall": wall, "ratio_cpu": cpu,
                   "adjoint_rss_mib": res["adjoint"][-1]["peak_rss_mib"],
                   "pytorch_rss_mib": res["pytorch"][-1]["peak_rss_mib"]}
            rows.append(row)
            print("%-10s %d thr  adjoint %8.2f ms  pytorch %8.2f ms  ratio wall %s  cpu %s  load %s->%s"
                  % (row["workload"], row["threads"], row["adjoint_ms"], row["pytorch_ms"], fmt(wall),
                     fmt(cpu), l0, row["load"][1]))
            sys.stdout.flush()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
