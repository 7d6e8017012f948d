#!/usr/bin/python3
"""Turn the tagged JSON lines of run.sh into one table (stdout), a JSON
file, an SVG plot per model family, the targets, and warnings for ratios
that fell against a stored baseline.  Standard library only.

    report.py RAW OUT.json [--baseline FILE] [--tolerance 0.15] [--svg DIR]
                           [--write-baseline FILE] [--markdown FILE]

RAW lines are "engine<TAB>threads<TAB>key<TAB>{json}" (engine adjoint,
pytorch, floor: the minimal C tape of the scalar chain, or machine: the FMA
peak of bench_peak); lines whose last field starts with "# " are the
benchmarks' headers.  The MLP step at batch 256 is given in GFLOP/s and as a
share of the float FMA peak measured in the same run at the same thread
count (an assumed per-core figure, said so, where the run has none).  Ratio is always
oriented so that higher = adjoint better: adjoint / PyTorch for rates
(samples/s, GB/s), PyTorch / adjoint for costs (time, memory).

--baseline: a file written by --write-baseline ({"ratios": {"label @ T":
ratio}}); every ratio of this run more than --tolerance (a fraction) below
its stored value prints a WARNING line with both numbers.  Warnings never
change the exit status.  --markdown writes the table as Markdown, one line
per workload with a column group per thread count, and the targets (as in
docs/performance.md).
"""
import argparse
import json
import os
import platform
import sys
import time

import svgplot


def machine():
    info = {"platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            info["memory_gib"] = round(kb / 1048576, 1)
        info["load_average"] = os.getloadavg()
    except OSError:
        pass
    return info


# (key, json field, label, unit, higher is better)
def metrics(key, d):
    w = d.get("workload")
    if w == "scalar_chain":
        n = "1e5" if d["nodes"] < 500000 else "1e6"
        return [("chain %s record" % n, d["record_ns_per_node"], "ns/node", False),
                ("chain %s backward" % n, d["backward_ns_per_node"], "ns/node", False)]
    if w == "min_tape":
        n = "1e5" if d["nodes"] < 500000 else "1e6"
        return [("chain %s record" % n, d["record_ns_per_node"], "ns/node", False),
                ("chain %s backward" % n, d["backward_ns_per_node"], "ns/node", False)]
    if w == "mlp_step":
        nat = " natural" if d.get("variant") == "natural" else ""
        if key.startswith("mlp_blis_own"):  # the tuned step on BLIS's own kernels
            nat = " BLIS's own kernels"
        return [("mlp step b%d%s" % (d["batch"], nat), d["samples_per_s"], "samples/s", True)]
    if w in ("gpt_step", "lstm_step", "gru_step"):
        return [("%s step B%d T%d" % (w[:-5], d["batch"], d["time"]), d["ms_per_step"], "ms",
                 False)]
    if w == "peak_rss":
        return [("peak RSS %s training" % d["model"], d["peak_rss_mib"], "MiB", False)]
    if w == "tiny_mlp":
        return [("tiny mlp 2-8-1 step", d["us_per_step"], "us/step", False)]
    if w == "elementwise":
        rows = [("%s fwd" % d["op"], d["fwd_gbs"], "GB/s", True)]
        if "bwd_gbs" in d:
            rows.append(("%s bwd" % d["op"], d["bwd_gbs"], "GB/s", True))
        return rows
    if w == "gradcheck":
        # the replay row compares with the same torch.autograd.gradcheck run
        label = "gradcheck 784-32-10" + (" replay" if key == "gradcheck_replay" else "")
        return [(label, d["seconds"], "s", False)]
    if w == "embedding":
        return [("embedding fwd+bwd %dx%d, %d ids" % (d["rows"], d["dim"], d["indices"]),
                 d["ms_per_step"], "ms", False)]
    if w == "cnn_step":
        nat = " natural" if d.get("variant") == "natural" else ""
        return [("cnn step b%d%s" % (d["batch"], nat), d["samples_per_s"], "samples/s", True)]
    if key == "tta" and "curve" in d:
        return [("mlp time to test accuracy %.2f" % TTA_ACC, time_to_accuracy(d), "s", False)]
    if w == "conv2d":
        return [("conv2d %d->%d %dx%d b%d fwd+bwd" % (d["cin"], d["cout"], d["hw"], d["hw"], d["batch"]),
                 d["ms"], "ms", False)]
    if w == "bmm" and key == "bmm":
        return [("bmm fwd+bwd %dx(%d,%d)" % (d["batch"], d["T"], d["D"]), d["ms_per_step"], "ms",
                 False)]
    if w == "mlp_memory":
        rows = [("mlp b%d peak RSS" % d["batch"], d["peak_rss_mib"], "MiB", False)]
        if d.get("allocs_per_step") is not None:
            rows.append(("mlp allocs/step", d["allocs_per_step"], "count", False))
        return rows
    if w in VIEWS:
        # CPU time of the process: on a shared machine the wall clock of a
        # step of a few ms mostly measures the other processes
        return [("views %s CPU" % VIEWS[w], d.get("cpu_ms", d["step_ms"]), "ms", False)]
    if w == "layer_norm":
        return [("layer_norm fwd+bwd (8192,768)", d["ms_per_step"], "ms", False),
                ("layer_norm fwd+bwd (8192,768) CPU", d["cpu_ms_per_step"], "ms", False)]
    b = d.get("bench")
    if b == "max_pool2d":
        rows = [("max_pool2d 2x2 fwd+bwd (64,32,28,28) CPU", d["ms"], "ms", False)]
        if "bw_ratio" in d:
            rows.append(("max_pool2d share of copy bandwidth", d["bw_ratio"], "ratio", True))
        return rows
    if b == "attention":
        return [("attention fwd+bwd B8 H4 T128 D32 causal", d["ms"], "ms", False)]
    if b == "attention_memory":
        return [("attention peak arena T=%d" % d["T"], d["peak_bytes"] / 1048576.0, "MiB", False)]
    return []


TTA_ACC = 0.90


def time_to_accuracy(d):
    """Seconds of training until the test accuracy first reaches TTA_ACC:
    PyTorch's curve has each epoch's seconds; adjoint train's JSON has the
    whole run's training seconds (evaluation excluded), shared evenly by its
    epochs, which are the same size."""
    t = 0.0
    for i, e in enumerate(d["curve"]):
        if "seconds" in e:
            t += e["seconds"]
        else:
            t = d["train_seconds"] * (i + 1) / len(d["curve"])
        if (e.get("test_accuracy") or 0) >= TTA_ACC:
            return round(t, 2)
    return None


VIEWS = {"matmul_tview": "matmul(x, transpose(w))", "matmul_t": "matmul_t(x, w)",
         "mlp_natural": "MLP step natural", "mlp_tuned": "MLP step tuned",
         "ew_contig": "exp contiguous (1024,1024)", "ew_tview": "exp transposed view (1024,1024)",
         "bmm": "batched matmul (8,4,128,64)"}


def derived(table, threads):
    """Ratios within one engine that the targets are stated in."""
    out = []

    def val(label, eng):
        r = table.get((threads, label))
        return r and r.get(eng)
    for eng in ("adjoint", "pytorch"):
        pairs = [("exp transposed / contiguous (time)", "views exp transposed view (1024,1024) CPU",
                  "views exp contiguous (1024,1024) CPU", False),
                 ("MLP natural / tuned (time)", "views MLP step natural CPU", "views MLP step tuned CPU",
                  False),
                 ("matmul(x, transpose(w)) / matmul_t (time)", "views matmul(x, transpose(w)) CPU",
                  "views matmul_t(x, w) CPU", False),
                 ("add_bcast fwd / copy (bandwidth)", "add_bcast fwd", "copy fwd", True),
                 ("add_bcast bwd / copy (bandwidth)", "add_bcast bwd", "copy fwd", True)]
        if eng == "adjoint":
            # the step as a newcomer writes it against the tuned one (target <= 1.10)
            for m in ("mlp", "cnn"):
                for b in (64, 256):
                    pairs.append(("%s step b%d tuned / natural (samples/s)" % (m.upper(), b),
                                  "%s step b%d" % (m, b), "%s step b%d natural" % (m, b), True))
            # adjoint's choice of BLIS kernels against BLIS's own (> 1: the choice pays)
            for b in (64, 256):
                pairs.append(("MLP b%d adjoint's BLIS kernels / BLIS's own (samples/s)" % b,
                              "mlp step b%d" % b, "mlp step b%d BLIS's own kernels" % b, True))
        for name, a, b, _ in pairs:
            x, y = val(a, eng), val(b, eng)
            if x and y:
                out.append({"ratio": name, "engine": eng, "threads": threads,
                            "value": round(x / y, 3)})
    # the scalar chain against the minimal hand-written tape (target <= 1.5)
    for n in ("1e5", "1e6"):
        for part in ("record", "backward"):
            x, y = val("chain %s %s" % (n, part), "adjoint"), val("chain %s %s" % (n, part), "floor")
            if x and y:
                out.append({"ratio": "chain %s %s / minimal C tape (time)" % (n, part),
                            "engine": "adjoint", "threads": threads, "value": round(x / y, 3)})
    return out


# The float FMA peak per core assumed when the run has no bench_peak
# figure for a thread count (measured on an earlier machine; the report
# says when it is used).
PEAK_GFLOPS_PER_CORE = 159.0
# FLOPs of one MLP 784-256-256-10 training step per sample, counting a
# multiply-add as two: the forward products (784x256, 256x256, 256x10),
# the weight gradients (the same), and the input gradients of the second
# and third layers (the batch is a constant: the first layer has none).
# Bias, ReLU, softmax and the SGD update add under 0.5% and are not counted.
MLP_LAYERS = ((784, 256), (256, 256), (256, 10))
MLP_FLOP_PER_SAMPLE = (2 * sum(i * o for i, o in MLP_LAYERS) * 2
                       + 2 * sum(i * o for i, o in MLP_LAYERS[1:]))


def peaks_of(raw):
    """{(threads, dtype): bench_peak's result} from the run's raw objects."""
    return {(d["threads"], d["dtype"]): d for d in raw if d.get("workload") == "fma_peak"}


def peak_for(peaks, threads):
    """(float FMA peak in GFLOP/s at this thread count, where it comes from):
    bench_peak's figure from this run, else the assumed per-core constant
    times the threads."""
    p = peaks.get((threads, "f32"))
    if p:
        return p["gflops"], "measured in this run, %s" % p["isa"]
    return PEAK_GFLOPS_PER_CORE * threads, ("assumed: %g per core, not measured in this run"
                                            % PEAK_GFLOPS_PER_CORE)


def mlp_vs_peak(table, peaks):
    """The MLP step at batch 256 against the float FMA peak: GFLOP/s and
    share of peak, per engine and thread count."""
    out = []
    for (th, label), r in sorted(table.items()):
        if label != "mlp step b256":
            continue
        peak, source = peak_for(peaks, th)
        for eng in ("adjoint", "pytorch"):
            if r.get(eng):
                gf = r[eng] * MLP_FLOP_PER_SAMPLE / 1e9
                out.append({"engine": eng, "threads": th, "gflops": round(gf, 1),
                            "peak_gflops": peak, "peak_source": source,
                            "share_of_peak": round(gf / peak, 3)})
    return out


# (label, threads or None for the largest, row, how, target): how "ratio"
# is the row's ratio (>= target), "adjoint" its adjoint value (<= target)


def targets(table, ratios, th, vs_peak=()):
    def row(label):
        return table.get((th, label)) or {}

    def ratio_of(name):
        r = [x["value"] for x in ratios if x["ratio"] == name and x["threads"] == th]
        return r[0] if r else None
    out = []

    def add(name, value, goal, met):
        out.append({"target": name, "threads": th, "value": value, "goal": goal,
                    "met": None if value is None else bool(met(value))})
    for p in vs_peak:
        if p["engine"] == "adjoint" and p["threads"] == th:
            add("MLP b256 %% of FMA peak (%s GFLOP/s of %s; f32 peak %s)" % (
                fmt(p["gflops"]), fmt(p["peak_gflops"]), p["peak_source"]),
                round(100 * p["share_of_peak"], 1), ">= 50", lambda v: v >= 50)
    for label, goal in (("mlp step b256", 2.0), ("mlp step b64", 1.8), ("cnn step b64", 1.0),
                        ("cnn step b256", 1.0), ("gpt step B16 T64", 1.5),
                        ("lstm step B32 T32", 2.0), ("gru step B32 T32", 2.0)):
        r = row(label)
        if r:
            add("%s vs PyTorch" % label, r.get("ratio"), ">= %g" % goal, lambda v, g=goal: v >= g)
    r = row("tiny mlp 2-8-1 step")
    if r:
        add("tiny mlp us/step", r.get("adjoint"), "<= 1.0", lambda v: v <= 1.0)
    for name in ("chain 1e5 record / minimal C tape (time)", "chain 1e5 backward / minimal C tape (time)",
                 "chain 1e6 record / minimal C tape (time)", "chain 1e6 backward / minimal C tape (time)"):
        v = ratio_of(name)
        if v is not None:
            add(name, v, "<= 1.5", lambda x: x <= 1.5)
    for m in ("mlp", "cnn", "gpt", "lstm", "gru"):
        r = row("peak RSS %s training" % m)
        if r:
            add("peak RSS %s: PyTorch / adjoint" % m, r.get("ratio"), ">= 5",
                lambda v: v >= 5)
    for m in ("MLP", "CNN"):
        for b in (64, 256):
            v = ratio_of("%s step b%d tuned / natural (samples/s)" % (m, b))
            if v is not None:
                add("%s b%d natural within 10%% of tuned (tuned/natural)" % (m, b), v, "<= 1.10",
                    lambda x: x <= 1.10)
    r = row("mlp time to test accuracy %.2f" % TTA_ACC)
    if r:
        add("time to %.2f: PyTorch / adjoint" % TTA_ACC, r.get("ratio"), ">= 2", lambda v: v >= 2)
    return out


def baseline_key(label, threads):
    return "%s @ %d" % (label, threads)


def compare_baseline(rows, ratios, base, tol):
    """WARNING lines for every ratio (higher = better) more than tol below
    its stored value; the chain / minimal tape ratios are costs (lower =
    better) and warn when they grow by more than tol."""
    warn = []
    stored = base.get("ratios", {})
    now = {baseline_key(r["workload"], r["threads"]): (r["ratio"], True) for r in rows
           if r.get("ratio")}
    for r in ratios:
        if r["engine"] == "adjoint":
            now[baseline_key(r["ratio"], r["threads"])] = (r["value"], "/ natural" not in r["ratio"]
                                                           and "minimal C tape" not in r["ratio"])
    for k in sorted(now):
        v, higher = now[k]
        old = stored.get(k)
        if not old or not v:
            continue
        fell = v < old * (1 - tol) if higher else v > old * (1 + tol)
        if fell:
            warn.append("WARNING: ratio worse than the baseline: %s: baseline %s, now %s (%+.0f%%; tolerance %.0f%%)" % (
                k, fmt(old), fmt(v), 100 * (v / old - 1), 100 * tol))
    return warn


def make_baseline(rows, ratios):
    out = {baseline_key(r["workload"], r["threads"]): r["ratio"] for r in rows if r.get("ratio")}
    for r in ratios:
        if r["engine"] == "adjoint":
            out[baseline_key(r["ratio"], r["threads"])] = r["value"]
    return {"date": time.strftime("%Y-%m-%d %H:%M"), "ratios": out}


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.3g" % v


def load(path):
    """(table, order, raw, headers) from a run.sh raw file."""
    table = {}  # (threads, label) -> row
    order = []
    raw = []
    headers = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t", 3)
            if len(parts) != 4:
                continue
            engine, threads, key, js = parts
            if js.startswith("# "):
                if js[2:] not in headers:
                    headers.append(js[2:])
                continue
            try:
                d = json.loads(js)
            except ValueError:
                continue
            if not isinstance(d, dict):
                continue
            d["engine"] = engine
            d["threads_run"] = int(threads)
            raw.append(d)
            for label, value, unit, higher in metrics(key, d):
                k = (int(threads), label)
                if k not in table:
                    table[k] = {"workload": label, "threads": int(threads), "unit": unit,
                                "higher_is_better": higher, "adjoint": None, "pytorch": None}
                    order.append(k)
                table[k][engine] = value
    # the natural variants run in adjoint only: PyTorch's figure is its one step
    for (th, label), r in table.items():
        if label.endswith(" natural") and r["pytorch"] is None:
            tuned = table.get((th, label[:-len(" natural")]))
            if tuned:
                r["pytorch"] = tuned["pytorch"]
    return table, order, raw, headers


def markdown(rows, goals, peaks=None, vs_peak=()):
    ths = sorted({r["threads"] for r in rows})
    by = {}
    order = []
    for r in rows:
        k = (r["workload"], r["unit"])
        if k not in by:
            by[k] = {}
            order.append(k)
        by[k][r["threads"]] = r
    head = "| workload | unit |" + "".join(" adjoint T=%d | PyTorch T=%d | ratio T=%d |" % (t, t, t)
                                            for t in ths)
    lines = [head, "|---|---|" + "---:|---:|---:|" * len(ths)]
    for k in order:
        cells = []
        for t in ths:
            r = by[k].get(t)
            cells += [fmt(r["adjoint"]), fmt(r["pytorch"]), fmt(r["ratio"])] if r else ["", "", ""]
        lines.append("| %s | %s | %s |" % (k[0], k[1], " | ".join(cells)))
    if peaks:
        lines += ["", "| FMA peak (bench_peak) | threads | GFLOP/s | per thread | GHz | vector FMAs/cycle |",
                  "|---|---:|---:|---:|---:|---:|"]
        for (th, dt), p in sorted(peaks.items(), key=lambda x: (x[0][1], x[0][0])):
            lines.append("| %s %s | %d | %s | %s | %.2f | %.2f |" % (
                dt, p["isa"], th, fmt(p["gflops"]), fmt(p["gflops_per_thread"]), p["ghz"],
                p["fma_per_cycle"]))
    if vs_peak:
        lines += ["", "| MLP step b256 | threads | GFLOP/s | % of f32 peak | peak |", "|---|---:|---:|---:|---|"]
        for p in vs_peak:
            lines.append("| %s | %d | %s | %.1f | %s (%s) |" % (
                p["engine"], p["threads"], fmt(p["gflops"]), 100 * p["share_of_peak"],
                fmt(p["peak_gflops"]), p["peak_source"]))
    if goals:
        lines += ["", "| target (T=%d) | measured | goal | |" % goals[0]["threads"], "|---|---:|---|---|"]
        for g in goals:
            lines.append("| %s | %s | %s | %s |" % (g["target"], fmt(g["value"]), g["goal"],
                                                    {True: "met", False: "not met", None: "-"}[g["met"]]))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("raw")
    ap.add_argument("out")
    ap.add_argument("--baseline")
    ap.add_argument("--tolerance", type=float, default=0.15)
    ap.add_argument("--svg")
    ap.add_argument("--write-baseline")
    ap.add_argument("--markdown")
    a = ap.parse_args()
    table, order, raw, headers = load(a.raw)
    rows = []
    for k in order:
        r = table[k]
        a_, p = r["adjoint"], r["pytorch"]
        r["ratio"] = None
        if a_ and p:
            r["ratio"] = round(a_ / p if r["higher_is_better"] else p / a_, 3)
        if r.get("floor") is None:
            r.pop("floor", None)
        rows.append(r)

    # the headers, once per distinct text after the program's name
    seen = {}
    for h in headers:
        name, _, rest = h.partition(": ")
        seen.setdefault(rest, []).append(name)
    for rest, names in seen.items():
        print("# %s: %s" % (", ".join(names), rest))
    w = max([len(r["workload"]) for r in rows] + [8])
    print("ratio > 1: adjoint better (rates: adjoint/PyTorch; times, memory: PyTorch/adjoint)")
    print("%-*s  %7s  %-9s  %10s  %10s  %8s  %10s" % (w, "workload", "threads", "unit", "adjoint",
                                                     "PyTorch", "ratio", "C tape"))
    for r in rows:
        print("%-*s  %7d  %-9s  %10s  %10s  %8s  %10s" % (
            w, r["workload"], r["threads"], r["unit"], fmt(r["adjoint"]), fmt(r["pytorch"]),
            fmt(r["ratio"]), fmt(r["floor"]) if "floor" in r else ""))
    ratios = []
    for th in sorted({k[0] for k in table}):
        ratios += derived(table, th)
    if ratios:
        print("ratios within one engine:")
        for r in ratios:
            print("  %-50s %-8s %d thread(s)  %s" % (r["ratio"], r["engine"], r["threads"],
                                                    fmt(r["value"])))
    peaks = peaks_of(raw)
    if peaks:
        print("FMA peak measured in this run (bench_peak; GFLOP/s, by the threads' CPU time):")
        for (th, dt), p in sorted(peaks.items()):
            print("  %s %s, %d thread(s): %s (%s per thread; clock %.2f GHz, %.2f vector FMAs"
                  " per cycle)" % (dt, p["isa"], th, fmt(p["gflops"]), fmt(p["gflops_per_thread"]),
                                   p["ghz"], p["fma_per_cycle"]))
    else:
        print("FMA peak: not measured in this run; assuming %g GFLOP/s per core (float)"
              % PEAK_GFLOPS_PER_CORE)
    vs_peak = mlp_vs_peak(table, peaks)
    if vs_peak:
        print("MLP step b256 against the float FMA peak (%d FLOP per sample):" % MLP_FLOP_PER_SAMPLE)
        for p in vs_peak:
            print("  %-8s %d thread(s): %s GFLOP/s, %.1f%% of %s (%s)" % (
                p["engine"], p["threads"], fmt(p["gflops"]), 100 * p["share_of_peak"],
                fmt(p["peak_gflops"]), p["peak_source"]))
    goals = targets(table, ratios, max([k[0] for k in table] or [1]), vs_peak)
    if goals:
        print("targets (%d threads):" % goals[0]["threads"])
        for g in goals:
            print("  %-58s %10s  goal %-7s %s" % (g["target"], fmt(g["value"]), g["goal"],
                                                 {True: "met", False: "NOT met", None: "-"}[g["met"]]))
    warnings = []
    if a.baseline and os.path.exists(a.baseline):
        with open(a.baseline) as f:
            warnings = compare_baseline(rows, ratios, json.load(f), a.tolerance)
        for line in warnings:
            print(line)
        if not warnings:
            print("baseline %s: no ratio fell by more than %.0f%%" % (a.baseline, 100 * a.tolerance))
    plots = []
    if a.svg:
        os.makedirs(a.svg, exist_ok=True)
        floor = [(x["ratio"].replace(" (time)", ""), x["threads"], round(1 / x["value"], 3))
                 for x in ratios if "minimal C tape" in x["ratio"] and x["value"]]
        for fam, (title, items) in svgplot.family_items(rows, floor).items():
            path = os.path.join(a.svg, "bench_%s.svg" % fam)
            with open(path, "w") as f:
                f.write(svgplot.bars(title, items))
            plots.append(path)
        print("plots: %s" % " ".join(plots))
    info = machine()
    info["headers"] = headers
    with open(a.out, "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%d %H:%M"), "machine": info, "rows": rows,
                   "ratios": ratios, "peak": sorted(peaks.values(), key=lambda p: (p["dtype"], p["threads"])),
                   "mlp_vs_peak": vs_peak, "targets": goals, "warnings": warnings, "raw": raw},
                  f, indent=1)
        f.write("\n")
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(markdown(rows, goals, peaks, vs_peak))
    if a.write_baseline:
        with open(a.write_baseline, "w") as f:
            json.dump(make_baseline(rows, ratios), f, indent=1, sort_keys=True)
            f.write("\n")
    print("written: %s" % a.out)


if __name__ == "__main__":
    main()
