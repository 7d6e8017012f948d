#!/usr/bin/python3
"""bench/report.py on a recorded run (tests/bench/raw.tsv): it writes the
table and JSON, one SVG per model family that parses as XML, and compares
ratios with a stored baseline: a ratio that fell by more than the tolerance
prints a WARNING with both numbers, a small change does not, and neither
changes the exit status.  No timing is checked.

    bench_report.py REPORT_PY RAW_TSV
"""
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def report(report_py, raw, tmp, *extra):
    out = os.path.join(tmp, "results.json")
    p = subprocess.run([sys.executable, report_py, raw, out] + list(extra),
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("report.py failed (%d):\n%s%s" % (p.returncode, p.stdout, p.stderr))
    with open(out) as f:
        return p.stdout, json.load(f)


def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)
    print("ok: " + what)


def main():
    report_py, raw = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        plots = os.path.join(tmp, "plots")
        base = os.path.join(tmp, "baseline.json")
        text, res = report(report_py, raw, tmp, "--svg", plots, "--write-baseline", base)
        rows = {(r["workload"], r["threads"]): r for r in res["rows"]}
        # ratio orientation: a rate is adjoint / PyTorch, a cost PyTorch / adjoint
        r = rows[("mlp step b64", 1)]
        check(abs(r["ratio"] - r["adjoint"] / r["pytorch"]) < 1e-3 * r["ratio"], "rate ratio")
        r = rows[("gpt step B16 T64", 1)]
        check(abs(r["ratio"] - r["pytorch"] / r["adjoint"]) < 1e-3 * r["ratio"], "cost ratio")
        check(rows[("mlp step b64 natural", 1)]["pytorch"] == rows[("mlp step b64", 1)]["pytorch"],
              "a natural variant is compared with PyTorch's one step")
        check(rows[("chain 1e5 record", 1)].get("floor") == 12.0, "the minimal tape's column")
        check(rows[("peak RSS gpt training", 1)]["ratio"] == round(512.0 / 60.2, 3),
              "peak RSS row (PyTorch / adjoint)")
        check(any(h.startswith("adjoint info:") for h in res["machine"]["headers"]),
              "the run's header is kept")
        want = {"mlp", "cnn", "rnn_gpt", "ops", "chain", "memory"}
        got = {f[len("bench_"):-len(".svg")] for f in os.listdir(plots)}
        check(got == want, "one plot per family: %s" % sorted(got))
        for f in sorted(os.listdir(plots)):
            root = ET.parse(os.path.join(plots, f)).getroot()
            check(root.tag == SVG + "svg", "%s parses as SVG" % f)
            bars = [e for e in root.iter(SVG + "rect") if e.get("height") == "12"]
            check(len(bars) >= 1 and all(float(e.get("width")) > 0 for e in bars),
                  "%s has %d bars" % (f, len(bars)))
        check("WARNING" not in text, "no warning without a baseline")

        # the tuned MLP step on BLIS's own kernels: its own row, and the ratio
        # of adjoint's choice against it
        own = rows[("mlp step b256 BLIS's own kernels", 1)]
        check(own["adjoint"] == 112775.3 and own["pytorch"] is None
              and rows[("mlp step b256", 1)]["adjoint"] != own["adjoint"],
              "the step on BLIS's own kernels is a row of its own")
        r = [x["value"] for x in res["ratios"]
             if x["ratio"] == "MLP b256 adjoint's BLIS kernels / BLIS's own (samples/s)"]
        check(r == [round(rows[("mlp step b256", 1)]["adjoint"] / 112775.3, 3)],
              "adjoint's kernels / BLIS's own: %s" % r)

        # time to 0.90 test accuracy: adjoint's 20 epochs share its training
        # seconds (reached at epoch 13 of 20: 13 s of 20), PyTorch's curve has
        # each epoch's seconds and stops at the epoch that reaches it (11 x 3 s)
        r = rows[("mlp time to test accuracy 0.90", 1)]
        check(r["adjoint"] == 13.0 and r["pytorch"] == 33.0 and r["ratio"] == round(33.0 / 13.0, 3),
              "time to accuracy from both curves: %s" % r)
        g = [t for t in res["targets"] if t["target"] == "time to 0.90: PyTorch / adjoint"]
        check(len(g) == 1 and g[0]["value"] == r["ratio"] and g[0]["met"], "the time-to-accuracy target")

        # the FMA peak measured in the run, and the MLP step against it
        peak = {(p["threads"], p["dtype"]): p["gflops"] for p in res["peak"]}
        check(peak == {(1, "f32"): 213.3, (1, "f64"): 106.8}, "the run's FMA peak: %s" % peak)
        fwd = 2 * (784 * 256 + 256 * 256 + 256 * 10)  # a multiply-add is two FLOPs
        flop = 2 * fwd + 2 * (256 * 256 + 256 * 10)  # weight gradients, input gradients of layers 2-3
        mv = {(p["engine"], p["threads"]): p for p in res["mlp_vs_peak"]}
        a = mv[("adjoint", 1)]
        gf = rows[("mlp step b256", 1)]["adjoint"] * flop / 1e9
        check(abs(a["gflops"] - gf) < 0.06 and a["peak_gflops"] == 213.3
              and abs(a["share_of_peak"] - gf / 213.3) < 1e-3, "MLP b256 GFLOP/s and share of peak: %s" % a)
        check(abs(mv[("pytorch", 1)]["share_of_peak"] - rows[("mlp step b256", 1)]["pytorch"] * flop / 1e9
                  / 213.3) < 1e-3, "PyTorch's share of peak")
        g = [t for t in res["targets"] if t["target"].startswith("MLP b256 % of FMA peak")]
        check(len(g) == 1 and "measured in this run" in g[0]["target"]
              and g[0]["value"] == round(100 * a["share_of_peak"], 1) and g[0]["met"] == (g[0]["value"] >= 50),
              "the share-of-peak target uses the measured peak: %s" % g)
        check("f32 avx512, 1 thread(s): 213" in text and "% of 213" in text, "the peak is printed")

        # without bench_peak's lines: the assumed per-core figure, said so
        nopeak = os.path.join(tmp, "nopeak.tsv")
        with open(raw) as f, open(nopeak, "w") as g_:
            g_.writelines(ln for ln in f if not ln.startswith("machine\t"))
        text2, res2 = report(report_py, nopeak, tmp)
        g = [t for t in res2["targets"] if t["target"].startswith("MLP b256 % of FMA peak")]
        check(res2["peak"] == [] and "not measured in this run" in text2 and len(g) == 1
              and "assumed: 159 per core" in g[0]["target"]
              and g[0]["value"] == round(100 * gf / 159.0, 1), "fallback to the assumed peak, said so: %s" % g)

        # the same run against its own baseline: nothing fell
        text, _ = report(report_py, raw, tmp, "--baseline", base)
        check("WARNING" not in text, "no warning against its own ratios")

        # a stored ratio 30% higher than now warns, one 5% higher does not,
        # and a cost ratio (chain / minimal tape) 30% lower warns
        with open(base) as f:
            b = json.load(f)
        k_drop, k_small = "mlp step b256 @ 1", "cnn step b64 @ 1"
        k_cost = "chain 1e5 backward / minimal C tape (time) @ 1"
        old_drop = round(b["ratios"][k_drop] * 1.3, 3)
        b["ratios"][k_drop] = old_drop
        b["ratios"][k_small] = round(b["ratios"][k_small] * 1.05, 3)
        b["ratios"][k_cost] = round(b["ratios"][k_cost] * 0.7, 3)
        with open(base, "w") as f:
            json.dump(b, f)
        text, res = report(report_py, raw, tmp, "--baseline", base)
        warn = [ln for ln in text.splitlines() if ln.startswith("WARNING")]
        now = rows[("mlp step b256", 1)]["ratio"]
        check(any(k_drop in ln and ("%.3g" % old_drop in ln or "%.1f" % old_drop in ln)
                  and ("%.3g" % now in ln or "%.1f" % now in ln) for ln in warn),
              "a 30%% drop warns with both numbers: %s" % warn)
        check(not any(k_small in ln for ln in warn), "a 5% change does not warn")
        check(any(k_cost in ln for ln in warn), "a cost ratio that grew by 43% warns")
        check(len(warn) == 2 and res["warnings"] == warn, "exactly those warnings, also in the JSON")
        # tighter tolerance: the 5% change now warns too
        text, _ = report(report_py, raw, tmp, "--baseline", base, "--tolerance", "0.02")
        check(any(k_small in ln for ln in text.splitlines() if ln.startswith("WARNING")),
              "--tolerance 0.02 warns on the 5% change")
    print("bench_report: all checks passed")


if __name__ == "__main__":
    main()
