#!/bin/sh
# The adjoint command end to end: help and usage errors, the op-table
# gradient check, an explained example, and training, saving, evaluating
# and re-training (bit-identical) on a small CSV data set made here.
# usage: cli.sh path/to/adjoint
set -u
adj=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT INT TERM
fails=0
passes=0

ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
expect() { # expect WHAT STRING FILE: FILE contains STRING
    if grep -q -- "$2" "$3"; then ok; else bad "$1: '$2' not in output:"; sed 's/^/    /' "$3" | head -20 >&2; fi
}

# help and usage
"$adj" --help > "$dir/help" 2>&1 && ok || bad "--help failed"
expect "--help" "train" "$dir/help"
"$adj" no-such-command > "$dir/out" 2>&1
[ $? -eq 2 ] && ok || bad "an unknown command must exit 2"
"$adj" train --no-such-option > "$dir/out" 2>&1
[ $? -ne 0 ] && ok || bad "an unknown option must fail"
expect "unknown option" "no-such-option" "$dir/out"

# the op table against finite differences
"$adj" gradcheck --json > "$dir/gc" 2>&1 && ok || bad "gradcheck failed"
expect "gradcheck" '"failed": 0' "$dir/gc"

# E2 at x = 1: f = 1.9282846855, df/dx = 1.9282846855 (the notes' table)
"$adj" explain e02 --x 1 --json > "$dir/e2" 2>&1 && ok || bad "explain e02 failed"
expect "explain value" '"value": 1.92828468553' "$dir/e2"
"$adj" explain e02 --x 1 --dot "$dir/e2.dot" > /dev/null 2>&1 && ok || bad "explain --dot failed"
expect "dot" "digraph" "$dir/e2.dot"

# three separable classes in two features, 300 rows, label column "label"
awk 'BEGIN {
    srand(7); print "x0,x1,label";
    for (i = 0; i < 300; i++) {
        c = i % 3; a = 6.2831853 * c / 3;
        printf "%.4f,%.4f,%d\n", 2 * cos(a) + rand() - 0.5, 2 * sin(a) + rand() - 0.5, c
    }
}' > "$dir/data.csv"

train() { # train OUTDIR
    "$adj" train --data "csv:$dir/data.csv" --label label --layers 16 --epochs 30 --batch 32 --lr 0.01 \
        --seed 3 --threads 1 --val-frac 0.2 --out "$1" --json > "$1.json" 2> "$1.log"
}
train "$dir/run1" && ok || { bad "train failed:"; cat "$dir/run1.log" >&2; }
expect "train json" '"test_accuracy"' "$dir/run1.json"
expect "train json" '"train_seconds"' "$dir/run1.json"
acc=$(sed -n 's/.*"test_accuracy": *\([0-9.]*\).*/\1/p' "$dir/run1.json" | head -n 1)
awk -v a="${acc:-0}" 'BEGIN { exit !(a >= 0.95) }' && ok || bad "test accuracy ${acc:-none} < 0.95"
[ -s "$dir/run1/model.adj" ] && [ -s "$dir/run1/curves.csv" ] && [ -s "$dir/run1/curves.svg" ] \
    && ok || bad "train did not write model.adj, curves.csv and curves.svg"

"$adj" eval "$dir/run1/model.adj" --data "csv:$dir/data.csv" --label label --json > "$dir/eval" 2>&1 \
    && ok || bad "eval failed"
acc=$(sed -n 's/.*"test_accuracy": *\([0-9.]*\).*/\1/p' "$dir/eval" | head -n 1)
awk -v a="${acc:-0}" 'BEGIN { exit !(a >= 0.95) }' && ok || bad "eval accuracy ${acc:-none} < 0.95"

# same seed and threads: the same model file, byte for byte
train "$dir/run2" && ok || bad "second train failed"
cmp -s "$dir/run1/model.adj" "$dir/run2/model.adj" && ok || bad "two runs with one seed differ"

# bad input: a clear error, no crash
"$adj" train --data "csv:$dir/missing.csv" --label label --out "$dir/run3" > "$dir/out" 2>&1
st=$?
[ $st -ne 0 ] && [ $st -lt 128 ] && ok || bad "training on a missing file must fail cleanly (exit $st)"
expect "missing file" "missing.csv" "$dir/out"
head -c 100 "$dir/run1/model.adj" > "$dir/trunc.adj"
"$adj" eval "$dir/trunc.adj" --data "csv:$dir/data.csv" --label label > "$dir/out" 2>&1
st=$?
[ $st -ne 0 ] && [ $st -lt 128 ] && ok || bad "a truncated model must fail cleanly (exit $st)"

echo "cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
