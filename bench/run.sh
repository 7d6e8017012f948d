#!/bin/sh
# Run the benchmark suite: adjoint (C, release build) and PyTorch side by
# side, workload by workload, for each thread count; print one table and
# write it as JSON.  See docs/performance.md.
#
#   bench/run.sh [--threads "1 2"] [--out FILE] [--build DIR] [--quick]
#
#   --threads  thread counts to run (default "1 2")
#   --out      JSON results file (default bench/results.json, git-ignored)
#   --build    release build directory (default build-rel; configured with
#              meson setup DIR --buildtype=release -Dtests=false if absent)
#   --quick    fewer repetitions and no 10^6-node chain (a smoke test)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
threads="1 2"
out="$here/results.json"
build="$root/build-rel"
quick=0
py=/usr/bin/python3

while [ $# -gt 0 ]; do
    case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

if ! "$py" -c 'import torch' 2>/dev/null; then
    echo "run.sh: $py cannot import torch (install python3-torch)" >&2
    exit 1
fi
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" --buildtype=release -Dtests=false >/dev/null
fi
ninja -C "$build" bench/bench_chain bench/bench_mlp bench/bench_tiny \
    bench/bench_elementwise bench/bench_gradcheck bench/bench_embedding \
    bench/bench_conv bench/bench_cnn bench/bench_bmm bench/bench_views bench/bench_norm \
    bench/bench_attention >/dev/null

bin="$build/bench"
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT INT TERM

# run ENGINE THREADS KEY COMMAND...: one JSON line per result, tagged
run() {
    engine=$1 t=$2 key=$3
    shift 3
    "$@" | while IFS= read -r line; do
        printf '%s\t%s\t%s\t%s\n' "$engine" "$t" "$key" "$line" >>"$raw"
    done
}

# both KEY "ADJOINT ARGS" "TORCH ARGS": the two engines, one after the
# other; the order flips on every call so drift hits both equally
flip=0
both() {
    key=$1 a=$2 p=$3
    if [ $flip -eq 0 ]; then
        run adjoint "$t" "$key" $a
        run pytorch "$t" "$key" "$py" "$here/torch_bench.py" $p
        flip=1
    else
        run pytorch "$t" "$key" "$py" "$here/torch_bench.py" $p
        run adjoint "$t" "$key" $a
        flip=0
    fi
    printf '.' >&2
}

# side KEY COMMAND...: a script that runs both engines itself, at 1 and 2
# threads; each JSON line names its engine ("engine" or "impl") and threads
side() {
    key=$1
    shift
    "$@" | while IFS= read -r line; do
        case "$line" in
        "{"*)
            eng=$(printf '%s\n' "$line" | sed -n 's/.*"\(engine\|impl\)": "\([a-z]*\)".*/\2/p')
            [ "$eng" = torch ] && eng=pytorch
            th=$(printf '%s\n' "$line" | sed -n 's/.*"threads": \([0-9]*\).*/\1/p')
            case " $threads " in *" ${th:-1} "*) ;; *) continue ;; esac
            printf '%s\t%s\t%s\t%s\n' "${eng:-adjoint}" "${th:-1}" "$key" "$line" >>"$raw"
            ;;
        esac
    done
    printf '.' >&2
}

if [ $quick -eq 1 ]; then
    reps_small=1 reps_big=0 ew_reps=5 tiny="5 200" mem_steps=200 steps=30 conv_steps=5 cnn_steps=5
    steps_side=5
else
    reps_small=3 reps_big=1 ew_reps=21 tiny="11 500" mem_steps=2000 steps=100 conv_steps=20 cnn_steps=30
    steps_side=20
fi

for t in $threads; do
    printf 'threads %s ' "$t" >&2
    both chain_1e5 "$bin/bench_chain 100000 $reps_small" "chain 100000 $reps_small"
    if [ $reps_big -gt 0 ]; then
        both chain_1e6 "$bin/bench_chain 1000000 $reps_big" "chain 1000000 $reps_big"
    fi
    for b in 16 32 64 128 256 512; do
        both "mlp_b$b" "$bin/bench_mlp $b $t $steps" "mlp $b $t $steps"
    done
    both tiny "$bin/bench_tiny $t $tiny" "tiny $t $tiny"
    both elementwise "$bin/bench_elementwise 1000000 $ew_reps $t" "elementwise 1000000 $ew_reps $t"
    both gradcheck "$bin/bench_gradcheck $t" "gradcheck $t"
    both embedding "$bin/bench_embedding $t $steps" "embedding $t $steps"
    both bmm "$bin/bench_bmm $t $steps" "bmm $t $steps"
    both gradcheck_replay "$bin/bench_gradcheck $t replay" "gradcheck $t"
    # convolution (the Fashion-MNIST shapes) and the CNN step
    for b in 64 256; do
        for shape in "1 32 28" "32 64 14"; do
            both "conv_$(echo $shape | tr ' ' _)_b$b" "$bin/bench_conv conv $shape $b $t $conv_steps" \
                "conv $shape $b $t $conv_steps"
        done
        both "cnn_b$b" "$bin/bench_cnn $b $t $cnn_steps" "cnn $b $t $cnn_steps"
    done
    both memory "$bin/bench_mlp 256 $t $mem_steps memory" "mlp 256 $t $mem_steps memory"
    both views "$bin/bench_views $t $ew_reps" "views $t $ew_reps"
    echo >&2
done
# these run both engines at 1 and 2 threads themselves
printf 'side by side ' >&2
side norm "$py" "$here/bench_norm.py" "$bin/bench_norm" $steps_side
side attention "$py" "$here/bench_attention.py" "$bin/bench_attention" $steps_side
echo >&2

"$py" "$here/report.py" "$raw" "$out"
