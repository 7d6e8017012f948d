#!/usr/bin/python3
"""Turn the tagged JSON lines of run.sh into one table (stdout) and a JSON
file.  Standard library only.

    report.py RAW OUT.json

RAW lines are "engine<TAB>threads<TAB>key<TAB>{json}".  Ratio is always
oriented so that higher = adjoint better: adjoint / PyTorch for rates
(samples/s, GB/s), PyTorch / adjoint for costs (time, memory).
"""
import json
import os
import platform
import sys
import time


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
    if w == "mlp_step":
        return [("mlp step b%d" % d["batch"], d["samples_per_s"], "samples/s", True)]
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
        return [("cnn step b%d" % d["batch"], d["samples_per_s"], "samples/s", True)]
    if w == "conv2d":
        return [("conv2d %d->%d %dx%d b%d fwd+bwd" % (d["cin"], d["cout"], d["hw"], d["hw"], d["batch"]),
                 d["ms"], "ms", False)]
    if w == "bmm":
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
        for name, a, b, _ in pairs:
            x, y = val(a, eng), val(b, eng)
            if x and y:
                out.append({"ratio": name, "engine": eng, "threads": threads,
                            "value": round(x / y, 3)})
    return out


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.3g" % v


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    table = {}  # (threads, label) -> row
    order = []
    raw = []
    with open(sys.argv[1]) as f:
        for line in f:
            engine, threads, key, js = line.rstrip("\n").split("\t", 3)
            try:
                d = json.loads(js)
            except ValueError:
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
    rows = []
    for k in order:
        r = table[k]
        a, p = r["adjoint"], r["pytorch"]
        r["ratio"] = None
        if a and p:
            r["ratio"] = round(a / p if r["higher_is_better"] else p / a, 3)
        rows.append(r)

    w = max([len(r["workload"]) for r in rows] + [8])
    print("ratio > 1: adjoint better (rates: adjoint/PyTorch; times, memory: PyTorch/adjoint)")
    print("%-*s  %7s  %-9s  %10s  %10s  %8s" % (w, "workload", "threads", "unit", "adjoint",
                                               "PyTorch", "ratio"))
    for r in rows:
        print("%-*s  %7d  %-9s  %10s  %10s  %8s" % (w, r["workload"], r["threads"], r["unit"],
                                                   fmt(r["adjoint"]), fmt(r["pytorch"]),
                                                   fmt(r["ratio"])))
    ratios = []
    for th in sorted({k[0] for k in table}):
        ratios += derived(table, th)
    if ratios:
        print("ratios within one engine:")
        for r in ratios:
            print("  %-45s %-8s %d thread(s)  %s" % (r["ratio"], r["engine"], r["threads"],
                                                    fmt(r["value"])))
    with open(sys.argv[2], "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(),
                   "rows": rows, "ratios": ratios, "raw": raw}, f, indent=1)
        f.write("\n")
    print("written: %s" % sys.argv[2])


if __name__ == "__main__":
    main()
