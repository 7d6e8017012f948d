#!/bin/sh
# The adjoint command end to end: help and usage errors, the op-table
# gradient check, an explained example, and training, saving, evaluating
# and re-training (bit-identical) on a small CSV data set made here; usage
# errors, unwritable output (/dev/full, a full disk), bad --out, bad data
# (non-finite features, IDX sets of another size, empty sets).
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

# usage errors name the option and the valid range
while IFS='|' read -r opt val want; do
    "$adj" train "$opt" "$val" --out "$dir/never" > "$dir/out" 2>&1
    st=$?
    [ $st -eq 2 ] && ok || bad "train $opt $val must be a usage error (exit $st)"
    expect "train $opt $val" "$opt needs a number in $want, got '$val'" "$dir/out"
done <<RANGES
--lr|0|(0, inf)
--lr|-1|(0, inf)
--lr|nan|(0, inf)
--lr|inf|(0, inf)
--momentum|1|\[0, 1)
--momentum|-0.5|\[0, 1)
--weight-decay|-1|\[0, inf)
--dropout|1|\[0, 1)
--val-frac|0|(0, 1)
RANGES
while IFS='|' read -r opt val want; do
    "$adj" train "$opt" "$val" --out "$dir/never" > "$dir/out" 2>&1
    [ $? -eq 2 ] && ok || bad "train $opt $val must be a usage error"
    expect "train $opt $val" "$want" "$dir/out"
done <<CHOICES
--activation|swish2|--activation must be one of .*relu.*; got 'swish2'
--optimizer|lbfgs|--optimizer must be one of .*adam.*; got 'lbfgs'
--schedule|linear|--schedule must be one of cosine, step, constant; got 'linear'
--layers|0|--layers needs up to 15 hidden sizes in \[1, 1048576\]
--batch|0|--batch needs an integer in \[1, 1048576\], got '0'
CHOICES
[ -d "$dir/never" ] && bad "a usage error created --out" || ok
for spec in idx: csv: nosuch:x; do
    "$adj" train --data "$spec" --out "$dir/never" > "$dir/out" 2>&1
    [ $? -eq 2 ] && ok || bad "--data $spec must be a usage error"
    expect "--data $spec" "data .*$spec" "$dir/out"
done
[ -d "$dir/never" ] && bad "a usage error created --out" || ok
# batch norm cannot train on one row: --batch 1 is a usage error, and an
# epoch's last batch of one row (192 training rows, batches of 191) is left
# out instead of failing the run
"$adj" train --data "csv:$dir/data.csv" --label label --batch 1 --out "$dir/never" > "$dir/out" 2>&1
[ $? -eq 2 ] && ok || bad "train --batch 1 with batch norm must be a usage error"
expect "--batch 1 with batch norm" "batch norm needs at least 2 rows per batch" "$dir/out"
"$adj" train --data "csv:$dir/data.csv" --label label --layers 16 --epochs 2 --batch 191 \
    --val-frac 0.2 --threads 1 --out "$dir/run191" > "$dir/out" 2>&1 \
    && ok || { bad "train with a last batch of one row failed:"; cat "$dir/out" >&2; }
"$adj" train --data "csv:$dir/data.csv" --label label --layers 16 --epochs 1 --batch 1 \
    --no-batchnorm --val-frac 0.2 --threads 1 --out "$dir/run1row" > "$dir/out" 2>&1 \
    && ok || { bad "train --batch 1 --no-batchnorm failed:"; cat "$dir/out" >&2; }
"$adj" train --lr > "$dir/out" 2>&1; [ $? -eq 2 ] && ok || bad "--lr without a value"
expect "--lr without a value" "lr needs a value" "$dir/out"
"$adj" eval "$dir/run1/model.adj" --data > "$dir/out" 2>&1; [ $? -eq 2 ] && ok || bad "eval --data without a value"
expect "eval --data without a value" "data needs a value" "$dir/out"
"$adj" gradcheck --seed > "$dir/out" 2>&1; [ $? -eq 2 ] && ok || bad "gradcheck --seed without a value"
expect "gradcheck --seed without a value" "seed needs a value" "$dir/out"
for c in train "eval $dir/run1/model.adj"; do
    # shellcheck disable=SC2086
    "$adj" $c --data "idx:$dir" --label y > "$dir/out" 2>&1
    [ $? -eq 2 ] && ok || bad "$c --label with IDX data must be a usage error"
    expect "$c --label with IDX" "label names a CSV column" "$dir/out"
done

# output that cannot be written fails the command (exit 1, a message)
for cmd in "eval $dir/run1/model.adj --data csv:$dir/data.csv --label label" \
           "eval $dir/run1/model.adj --data csv:$dir/data.csv --label label --json" \
           "gradcheck" "gradcheck --json" "explain e02" "explain e02 --json" "explain --list" \
           "train --data csv:$dir/data.csv --label label --layers 4 --epochs 1 --out $dir/full --json" \
           "train --data csv:$dir/data.csv --label label --layers 4 --epochs 1 --out $dir/full" \
           "--help" "train --help"; do
    # shellcheck disable=SC2086
    "$adj" $cmd > /dev/full 2> "$dir/out"
    st=$?
    [ $st -ne 0 ] && [ $st -lt 128 ] && ok || bad "adjoint $cmd > /dev/full exited $st"
    expect "adjoint $cmd > /dev/full" "cannot write" "$dir/out"
done
"$adj" explain e02 --dot /dev/full > "$dir/out" 2>&1; [ $? -eq 1 ] && ok || bad "explain --dot /dev/full must fail"
expect "explain --dot /dev/full" "/dev/full is a character device" "$dir/out"
"$adj" explain e02 --dot - > "$dir/out" 2>&1 && ok || bad "explain --dot - failed"
expect "explain --dot -" "digraph" "$dir/out"
# the sweep page: a file, the standard output, and the same refusals
"$adj" explain e02 --x 2 --html "$dir/e2.html" > /dev/null 2>&1 && ok || bad "explain --html failed"
expect "explain --html" "</html>" "$dir/e2.html"
expect "explain --html x = 2: df/dx" '"show":"14.526"' "$dir/e2.html"
"$adj" explain e02 --html - > "$dir/out" 2>&1 && ok || bad "explain --html - failed"
[ "$(head -c 15 "$dir/out")" = "<!DOCTYPE html>" ] && ok || bad "explain --html - must print only the page"
"$adj" explain e02 --html > "$dir/out" 2>&1; [ $? -eq 2 ] && ok || bad "explain --html without a file must exit 2"
expect "explain --html without a file" "--html needs a file name" "$dir/out"
"$adj" explain e02 --html /dev/full > "$dir/out" 2>&1; [ $? -eq 1 ] && ok || bad "explain --html /dev/full must fail"
expect "explain --html /dev/full" "/dev/full is a character device" "$dir/out"

# the safetensors model file evaluates as the MLP file does
"$adj" eval "$dir/run1/model.safetensors" --data "csv:$dir/data.csv" --label label --json > "$dir/st" 2>&1 \
    && ok || bad "eval of model.safetensors failed: $(cat "$dir/st")"
"$adj" eval "$dir/run1/model.adj" --data "csv:$dir/data.csv" --label label --json > "$dir/adj" 2>&1
sed 's/model[.][a-z]*"/M"/' "$dir/st" > "$dir/st2"; sed 's/model[.][a-z]*"/M"/' "$dir/adj" > "$dir/adj2"
cmp -s "$dir/st2" "$dir/adj2" && ok || bad "model.safetensors and model.adj evaluate differently"

# a model loader that checks the magic first: /dev/zero fails at once
timeout 20 "$adj" eval /dev/zero --data "csv:$dir/data.csv" --label label > "$dir/out" 2>&1
[ $? -eq 1 ] && ok || bad "eval /dev/zero must fail with exit 1"
expect "eval /dev/zero" "not an adjoint model file" "$dir/out"

# --out is checked before the first step: no epoch runs for a bad one
touch "$dir/plain"
mkdir -p "$dir/blocked/model.adj"
for out in "$dir/plain" "$dir/no/such/parent" "" /proc/adjoint-out "$dir/blocked"; do
    "$adj" train --data "csv:$dir/data.csv" --label label --layers 4 --epochs 50 --out "$out" \
        > "$dir/out" 2>&1
    st=$?
    [ $st -ne 0 ] && [ $st -lt 128 ] && ok || bad "train --out '$out' must fail (exit $st)"
    if grep -q "^epoch" "$dir/out"; then bad "train --out '$out' trained before failing"; else ok; fi
    expect "train --out '$out'" "out\|model.adj" "$dir/out"
done

# a full disk (a file-size limit) while the outputs are written: the
# previous run's model, curves.csv and curves.svg stay as they were
cp -r "$dir/run1" "$dir/before"
(ulimit -f 8; trap '' XFSZ; "$adj" train --data "csv:$dir/data.csv" --label label --layers 8 \
    --epochs 40 --batch 32 --seed 5 --threads 1 --out "$dir/run1" --quiet > "$dir/out" 2>&1)
st=$?
[ $st -eq 1 ] && ok || bad "train on a full disk must exit 1 (exit $st)"
expect "train on a full disk" "write failed" "$dir/out"
for f in model.safetensors model.adj curves.csv curves.svg; do
    cmp -s "$dir/before/$f" "$dir/run1/$f" && ok || bad "a failed save changed $f"
done
[ "$(ls "$dir/run1" | wc -l)" -eq 4 ] && ok || bad "a failed save left files in run1: $(ls "$dir/run1")"

# data: non-finite features, too few rows for a test set
printf 'a,b,label\n1,2,0\n3,1e300,1\n' > "$dir/big.csv"
"$adj" train --data "csv:$dir/big.csv" --label label --out "$dir/big" > "$dir/out" 2>&1
[ $? -eq 1 ] && ok || bad "a feature of 1e300 must fail"
expect "1e300" "big.csv:3: column 2 ('b'): '1e300' is beyond the float range" "$dir/out"
printf 'a,label\n1,0\n2,1\n' > "$dir/two.csv"
"$adj" train --data "csv:$dir/two.csv" --label label --layers 2 --epochs 1 --batch 2 --no-batchnorm \
    --out "$dir/two" --json > "$dir/two.json" 2> "$dir/out" && ok || bad "two rows must train"
expect "no test set" "no test set" "$dir/out"
expect "no test set in JSON" '"test_accuracy": null' "$dir/two.json"

# IDX data: every set must fit the model's input
be32() { for s in 24 16 8 0; do printf "\\$(printf %03o $(($1 >> s & 255)))"; done; }
idx_u8() { # idx_u8 FILE MOD D1 D2 ...: elements (37 i + 11) mod MOD
    f=$1; mod=$2; shift 2
    { printf '\000\000\010'; printf "\\$(printf %03o $#)"
      n=1; for k in "$@"; do be32 "$k"; n=$((n * k)); done
      i=0; while [ $i -lt $n ]; do printf "\\$(printf %03o $(((i * 37 + 11) % mod)))"; i=$((i + 1)); done
    } > "$f"
}
idxrun() { # idxrun DIR: train one epoch on DIR's IDX files
    "$adj" train --data "idx:$1" --layers 4 --epochs 1 --batch 4 --no-batchnorm --threads 1 \
        --out "$1/run" --json > "$1/json" 2> "$1/err"
}
for case in fewer:1:2 more:3:2 same:2:2; do
    name=${case%%:*}; d=$dir/idx-$name; mkdir -p "$d"
    rest=${case#*:}
    idx_u8 "$d/train-images-idx3-ubyte" 256 12 2 2
    idx_u8 "$d/train-labels-idx1-ubyte" 3 12
    idx_u8 "$d/t10k-images-idx3-ubyte" 256 4 "${rest%%:*}" "${rest#*:}"
    idx_u8 "$d/t10k-labels-idx1-ubyte" 3 4
    idxrun "$d"
    st=$?
    if [ "$name" = same ]; then
        [ $st -eq 0 ] && ok || { bad "IDX training failed:"; cat "$d/err" >&2; }
    else
        [ $st -eq 1 ] && ok || bad "t10k images with $name pixels must fail with exit 1 (exit $st)"
        expect "t10k images with $name pixels" "the test images (t10k files) have" "$d/err"
    fi
done
d=$dir/idx-same
"$adj" eval "$d/run/model.adj" --data "idx:$d" > "$dir/out" 2>&1 && ok || bad "IDX eval failed"
idx_u8 "$d/t10k-images-idx3-ubyte" 256 0 2 2
idx_u8 "$d/t10k-labels-idx1-ubyte" 3 0
"$adj" eval "$d/run/model.adj" --data "idx:$d" > "$dir/out" 2>&1; [ $? -eq 1 ] && ok || bad "eval without test images must fail"
expect "eval without test images" "no test set" "$dir/out"
idxrun "$d" && ok || bad "training without test images failed"
expect "training without test images" '"test_accuracy": null' "$d/json"
idx_u8 "$d/train-images-idx3-ubyte" 256 0 2 2
idx_u8 "$d/train-labels-idx1-ubyte" 3 0
idxrun "$d"; [ $? -eq 1 ] && ok || bad "training on 0 images must fail"
expect "training on 0 images" "no training images" "$d/err"

# --model cnn and autoencoder on 8x8 byte images of 3 classes; --steps,
# --init, --pictures, eval of both; options that do not fit the model
d=$dir/img; mkdir -p "$d"
idx_u8 "$d/train-images-idx3-ubyte" 256 48 8 8
idx_u8 "$d/train-labels-idx1-ubyte" 3 48
idx_u8 "$d/t10k-images-idx3-ubyte" 251 12 8 8
idx_u8 "$d/t10k-labels-idx1-ubyte" 3 12
"$adj" train --model cnn --data "idx:$d" --epochs 2 --batch 8 --threads 1 --out "$d/cnn" --json \
    > "$d/cnn.json" 2> "$d/cnn.log" && ok || { bad "train --model cnn failed:"; cat "$d/cnn.log" >&2; }
expect "cnn json" '"arch": "cnn"' "$d/cnn.json"
expect "cnn json" '"steps": 12' "$d/cnn.json"
expect "cnn json" '"test_accuracy": 0' "$d/cnn.json"
expect "cnn progress" 'epoch  2/2  loss [0-9.]*  val acc' "$d/cnn.log"
[ -s "$d/cnn/model.safetensors" ] && [ -s "$d/cnn/curves.svg" ] && [ ! -e "$d/cnn/model.adj" ] \
    && ok || bad "train --model cnn: model.safetensors and curves.svg, no model.adj: $(ls "$d/cnn")"
"$adj" eval "$d/cnn/model.safetensors" --data "idx:$d" --json > "$d/eval" 2>&1 && ok || bad "eval of a cnn failed: $(cat "$d/eval")"
expect "cnn eval" '"arch": "cnn", "samples": 12, "test_accuracy": ' "$d/eval"
# --init continues from the file; --steps stops early
"$adj" train --init "$d/cnn/model.safetensors" --data "idx:$d" --steps 3 --batch 8 --threads 1 \
    --out "$d/cnn2" --json > "$d/cnn2.json" 2> "$d/cnn2.log" && ok || { bad "train --init failed:"; cat "$d/cnn2.log" >&2; }
expect "--init json" '"arch": "cnn"' "$d/cnn2.json"
expect "--steps" '"steps": 3' "$d/cnn2.json"
expect "--init banner" "from $d/cnn/model.safetensors" "$d/cnn2.log"
"$adj" train --init "$d/cnn/model.safetensors" --model autoencoder --data "idx:$d" --out "$d/x" > "$dir/out" 2>&1
[ $? -eq 1 ] && ok || bad "--init of a cnn with --model autoencoder must fail"
expect "--init of another model" 'holds a "cnn" model, not --model autoencoder' "$dir/out"
"$adj" train --init "$d/cnn/model.safetensors" --layers 8 --data "idx:$d" --out "$d/x" > "$dir/out" 2>&1
[ $? -eq 2 ] && ok || bad "--init with --layers must be a usage error"
"$adj" train --model cnn --layers 8 --data "idx:$d" --out "$d/x" > "$dir/out" 2>&1
[ $? -eq 2 ] && ok || bad "--model cnn --layers must be a usage error"
expect "--layers for a cnn" "applies to --model mlp" "$dir/out"
"$adj" train --model autoencoder --code 2 --data "idx:$d" --epochs 3 --batch 8 --threads 1 \
    --pictures "$d/pics" --out "$d/ae" --json > "$d/ae.json" 2> "$d/ae.log" && ok || { bad "train --model autoencoder failed:"; cat "$d/ae.log" >&2; }
expect "autoencoder json" '"test_mse": 0' "$d/ae.json"
expect "autoencoder progress" 'val mse [0-9.]*  test mse' "$d/ae.log"
expect "autoencoder curves" 'epoch,train_loss,val_mse,test_mse,lr' "$d/ae/curves.csv"
[ "$(head -c 8 "$d/pics/reconstructions.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ] \
    && ok || bad "reconstructions.png is not a PNG file"
[ "$(grep -c '<circle' "$d/pics/code.svg")" -eq 15 ] && ok || bad "code.svg: 12 points and 3 classes expected"
"$adj" train --model autoencoder --conv --code 2 --data "idx:$d" --epochs 2 --batch 8 --threads 1 \
    --pictures "$d/cpics" --out "$d/cae" --json > "$d/cae.json" 2> "$d/cae.log" && ok || { bad "train --model autoencoder --conv failed:"; cat "$d/cae.log" >&2; }
expect "conv autoencoder json" '"channels": "16,32", "image": "1,8,8"' "$d/cae.json"
[ "$(grep -c '<circle' "$d/cpics/code.svg")" -eq 15 ] && ok || bad "conv code.svg: 12 points and 3 classes expected"
"$adj" eval "$d/ae/model.safetensors" --data "idx:$d" > "$d/eval" 2>&1 && ok || bad "eval of an autoencoder failed"
expect "autoencoder eval" 'test reconstruction MSE 0' "$d/eval"
"$adj" train --model mlp --data "csv:$dir/data.csv" --init "$dir/run1/model.safetensors" --label label \
    --steps 5 --threads 1 --out "$dir/again" --json > "$dir/again.json" 2> "$dir/out" && ok || bad "mlp --init failed: $(cat "$dir/out")"
acc=$(sed -n 's/.*"test_accuracy": *\([0-9.]*\).*/\1/p' "$dir/again.json" | head -n 1)
awk -v a="${acc:-0}" 'BEGIN { exit !(a >= 0.95) }' && ok || bad "mlp --init starts from the trained model: accuracy ${acc:-none}"

# "N parameters" counts the tensors' elements (2x7 + 7 + 7x3 + 3), not the
# store's aligned blocks
"$adj" train --data "csv:$dir/data.csv" --label label --layers 7 --no-batchnorm --steps 1 \
    --threads 1 --out "$dir/p7" --json > "$dir/p7.json" 2> "$dir/p7.log" && ok || bad "train --layers 7 failed"
expect "parameter count (json)" '"parameters": 45,' "$dir/p7.json"
expect "parameter count (progress)" ', 45 parameters' "$dir/p7.log"

echo "cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
