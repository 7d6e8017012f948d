#!/bin/sh
# bench/run.sh --quick at one thread on this build: every workload runs for
# adjoint and PyTorch, the FMA peak is measured, and the report writes its
# JSON and plots.  A smoke
# test of the pipeline: no timing is checked.
#
#   bench_quick.sh BUILD_DIR
set -eu
build=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
"$here/../bench/run.sh" --quick --smoke --threads 1 --build "$build" --out "$tmp/r.json" \
    --baseline none >"$tmp/out.txt" 2>&1 || { cat "$tmp/out.txt"; exit 1; }
/usr/bin/python3 - "$tmp/r.json" "$tmp/plots" <<'PY'
import json, os, sys
import xml.etree.ElementTree as ET
res = json.load(open(sys.argv[1]))
rows = {r["workload"]: r for r in res["rows"]}
need = ["chain 1e5 record", "mlp step b64", "mlp step b64 natural", "tiny mlp 2-8-1 step",
        "cnn step b64", "peak RSS mlp training"]
missing = [w for w in need if w not in rows or rows[w]["ratio"] is None]
if missing:
    sys.exit("bench_quick: no ratio for %s" % missing)
if any("chosen by adjoint" in h for h in res["machine"]["headers"]) and \
        "mlp step b64 BLIS's own kernels" not in rows:
    sys.exit("bench_quick: adjoint chose BLIS's kernels, but no step ran on BLIS's own")
peak = {(p["threads"], p["dtype"]): p["gflops"] for p in res["peak"]}
if not (peak.get((1, "f32"), 0) > 0 and peak.get((1, "f64"), 0) > 0):
    sys.exit("bench_quick: no FMA peak measured: %s" % res["peak"])
for f in os.listdir(sys.argv[2]):
    ET.parse(os.path.join(sys.argv[2], f))
print("bench_quick: %d rows, %d plots" % (len(rows), len(os.listdir(sys.argv[2]))))
PY
