#!/usr/bin/python3
"""Agreement with PyTorch: forward values and gradients of adjoint's ops
against torch.nn.functional in float64, on a grid of options per op.

    torch_agree.py AGREE_BINARY [FAMILY...]

Cases come from the family files agree/agree_<family>.py (all of them, or
the FAMILYs named), each defining

    def cases(torch, F):  ->  list of dicts with
        op      the op name the C side knows (agree/agree_<family>.c)
        label   a unique name without spaces, printed on failure
        inputs  [(name, float64 tensor or None for an absent input), ...]
        attrs   {name: number}, read in C with agree_attr
        ref     function(dict name -> tensor (None if absent)) giving the
                output tensor, or (output, {extra name: tensor})
        nograd  names of inputs whose gradient is not compared (optional)
        error   words the C side's error message must contain: the case
                must fail there (optional; ref is then not called)
        tol     relative tolerance (optional, default 1e-10)
        atol    absolute tolerance added to it (optional, default 0: for
                outputs that are zero up to PyTorch's rounding)

Every present input not in nograd gets a PyTorch gradient; the C side must
print the gradient of exactly those inputs (agree_var) and take the others
with agree_const or agree_data.  The upstream gradient is random; outputs,
gradients and extras must agree in max norm:
max |adjoint - torch| <= tol * max(max |torch|, 1e-300) + atol.

Protocol on the C program's stdin, one block per case (numbers in %.17g):
    case LABEL / op NAME / attr KEY VALUE / input NAME NDIM DIMS... VALUES...
    / absent NAME / seed N VALUES... / end
and on its stdout:
    case LABEL / out NDIM DIMS... VALUES... / grad NAME N VALUES...
    / extra NAME N VALUES... / end      or      case LABEL / error WORDS / end

Exits 77 (skipped) with a reason when torch cannot be imported.
"""
import glob
import importlib.util
import os
import subprocess
import sys

try:
    import torch
    import torch.nn.functional as F
except Exception as e:  # noqa: BLE001 (any import failure means: skip)
    print("torch_agree: skipped: cannot import torch (%s); install python3-torch" % e)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))


def load_families(names):
    fams = []
    for path in sorted(glob.glob(os.path.join(HERE, "agree", "agree_*.py"))):
        fam = os.path.basename(path)[len("agree_"):-3]
        if names and fam not in names:
            continue
        spec = importlib.util.spec_from_file_location("agree_" + fam, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        fams.append((fam, mod))
    return fams


def fmt(values):
    return " ".join("%.17g" % v for v in values)


def encode(case, seed):
    lines = ["case " + case["label"], "op " + case["op"]]
    for k, v in case.get("attrs", {}).items():
        lines.append("attr %s %.17g" % (k, float(v)))
    for name, t in case["inputs"]:
        if t is None:
            lines.append("absent " + name)
        else:
            dims = " ".join(str(d) for d in t.shape)
            lines.append("input %s %d %s %s" % (name, t.dim(), dims, fmt(t.reshape(-1).tolist())))
    lines.append("seed %d %s" % (len(seed), fmt(seed)))
    lines.append("end")
    return "\n".join(lines) + "\n"


def parse(text):
    """Blocks of the C program's output: label -> dict."""
    res, cur = {}, None
    for line in text.splitlines():
        w = line.split()
        if not w:
            continue
        if w[0] == "case":
            cur = {"grad": {}, "extra": {}}
            res[w[1]] = cur
        elif w[0] == "error":
            cur["error"] = " ".join(w[1:])
        elif w[0] == "out":
            nd = int(w[1])
            cur["shape"] = [int(d) for d in w[2:2 + nd]]
            cur["out"] = [float(v) for v in w[2 + nd:]]
        elif w[0] in ("grad", "extra"):
            cur[w[0]][w[1]] = [float(v) for v in w[3:]]
    return res


def close(got, want, tol, atol=0.0):
    want = [float(v) for v in want]
    if len(got) != len(want):
        return False, "%d values, expected %d" % (len(got), len(want))
    if not want:
        return True, ""
    scale = max(max(abs(v) for v in want), 1e-300)
    err = max(abs(a - b) for a, b in zip(got, want))
    ok = err <= tol * scale + atol  # NaN fails
    return ok, "max abs diff %.3g, max |torch| %.3g (rel %.3g)" % (err, scale, err / scale)


def reference(case, gen):
    """PyTorch's output, gradients, extras and the seed used."""
    nograd = set(case.get("nograd", ()))
    leaves = {}
    for name, t in case["inputs"]:
        if t is None:
            leaves[name] = None
        else:
            leaves[name] = t.detach().clone().requires_grad_(name not in nograd)
    r = case["ref"](leaves)
    out, extras = (r if isinstance(r, tuple) else (r, {}))
    seed = torch.randn(out.shape, dtype=torch.float64, generator=gen)
    wrt = [n for n, t in leaves.items() if t is not None and t.requires_grad]
    grads = torch.autograd.grad(out, [leaves[n] for n in wrt], seed, allow_unused=True)
    gd = {}
    for n, g in zip(wrt, grads):
        gd[n] = (g if g is not None else torch.zeros_like(leaves[n])).reshape(-1).tolist()
    ex = {k: v.detach().reshape(-1).tolist() for k, v in extras.items()}
    return out.detach(), gd, ex, seed.reshape(-1).tolist()


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    binary, names = sys.argv[1], set(sys.argv[2:])
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(12)
    cases, refs, text = [], {}, []
    for fam, mod in load_families(names):
        for case in mod.cases(torch, F):
            case["family"] = fam
            if case["label"] in refs:
                print("torch_agree: duplicate label %s" % case["label"])
                return 1
            if "error" in case:
                refs[case["label"]] = None
                out_shape = case.get("seed_shape", ())
                seed = [0.0] * int(torch.Size(out_shape).numel())
            else:
                refs[case["label"]] = reference(case, gen)
                seed = refs[case["label"]][3]
            cases.append(case)
            text.append(encode(case, seed))
    p = subprocess.run([binary], input="".join(text), capture_output=True, text=True)
    if p.returncode != 0:
        print("torch_agree: %s exited %d: %s" % (binary, p.returncode, p.stderr.strip()))
        return 1
    got = parse(p.stdout)
    fails = 0
    per_family = {}
    for case in cases:
        label, tol, atol = case["label"], case.get("tol", 1e-10), case.get("atol", 0.0)
        per_family[case["family"]] = per_family.get(case["family"], 0) + 1
        r, ref = got.get(label), refs[label]
        problems = []
        if r is None:
            problems.append("no result")
        elif ref is None:
            words = case["error"].split()
            if "error" not in r:
                problems.append("succeeded, expected an error with %r" % case["error"])
            elif not all(w in r["error"] for w in words):
                problems.append("error %r lacks %r" % (r["error"], case["error"]))
        elif "error" in r:
            problems.append("error: " + r["error"])
        else:
            out, gd, ex, _ = ref
            if r["shape"] != list(out.shape):
                problems.append("shape %s, torch %s" % (r["shape"], list(out.shape)))
            ok, why = close(r["out"], out.reshape(-1).tolist(), tol, atol)
            if not ok:
                problems.append("forward: " + why)
            if set(r["grad"]) != set(gd):
                problems.append("gradients of %s, torch %s" % (sorted(r["grad"]), sorted(gd)))
            for n in gd:
                if n in r["grad"]:
                    ok, why = close(r["grad"][n], gd[n], tol, atol)
                    if not ok:
                        problems.append("d%s: %s" % (n, why))
            for n in ex:
                if n not in r["extra"]:
                    problems.append("no extra %s" % n)
                    continue
                ok, why = close(r["extra"][n], ex[n], tol, atol)
                if not ok:
                    problems.append("%s: %s" % (n, why))
        if problems:
            fails += 1
            print("FAIL %s: %s" % (label, "; ".join(problems)))
    summary = ", ".join("%s %d" % kv for kv in sorted(per_family.items()))
    print("torch_agree: %d cases (%s), %d failed" % (len(cases), summary, fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
