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
