#!/bin/sh
# Run the benchmark suite: adjoint (C, release build) and PyTorch side by
# side, workload by workload, for each thread count, after measuring the
# machine's FMA peak (bench_peak); print one table, write it as JSON, an SVG
# plot per model family, and a warning for every ratio that fell against
# the stored baseline.  See docs/performance.md.
#
#   bench/run.sh [--threads "1 2"] [--out FILE] [--build DIR] [--quick] [--tta]
#                [--baseline FILE] [--svg DIR] [--torch-blis same|own] [--raw FILE]
#                [--smoke] [--write-baseline FILE]
#
#   --threads     thread counts to run (default "1 2")
#   --out         JSON results file (default bench/results.json, git-ignored;
#                 the table as Markdown beside it, results.md)
#   --build       build directory (default build-rel; configured with
#                 meson setup DIR --buildtype=release -Dtests=false if absent)
#   --quick       one step or repetition where possible, no 10^6-node chain,
#                 no gradient check (a smoke test of the whole pipeline)
#   --tta         also the time to 0.90 test accuracy of the default
#                 `adjoint train` and of PyTorch on the same recipe (minutes)
#   --baseline    stored ratios to compare with (default bench/baseline.json;
#                 "none" for no comparison); a drop only warns
#   --svg         directory for the plots (default: beside --out)
#   --torch-blis  "same" (default): PyTorch's BLIS runs the sub-configuration
#                 that adjoint's runs (BLIS_ARCH_TYPE set for its processes);
#                 "own": BLIS's own detection in PyTorch's processes
#   --raw         also keep the tagged raw lines (report.py's input) in FILE
#   --write-baseline  store this run's ratios in FILE (for --baseline)
#   --smoke       --quick with one workload of each model family only: the
#                 chain, the MLP at batch 64 (tuned and natural), the tiny
#                 MLP, the CNN at batch 64, pooling, and the model steps
#                 (the test suite's bench-quick runs it)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
threads="1 2"
out="$here/results.json"
build="$root/build-rel"
quick=0
smoke=0
tta=0
baseline="$here/baseline.json"
svg=""
torch_blis=same
keep_raw=""
new_base=""
py=/usr/bin/python3

while [ $# -gt 0 ]; do
    case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    --smoke) quick=1; smoke=1; shift ;;
    --tta) tta=1; shift ;;
    --baseline) baseline="$2"; shift 2 ;;
    --svg) svg="$2"; shift 2 ;;
    --torch-blis) torch_blis="$2"; shift 2 ;;
    --raw) keep_raw="$2"; shift 2 ;;
    --write-baseline) new_base="$2"; shift 2 ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$svg" ] || svg=$(dirname "$out")/plots

if ! "$py" -c 'import torch' 2>/dev/null; then
    echo "run.sh: $py cannot import torch (install python3-torch)" >&2
    exit 1
fi
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" --buildtype=release -Dtests=false >/dev/null
fi
# the programs every build has, and those of the step and floor workloads
# where this tree has them
targets="bench/bench_chain bench/bench_mlp bench/bench_tiny bench/bench_elementwise
    bench/bench_gradcheck bench/bench_embedding bench/bench_conv bench/bench_cnn bench/bench_bmm
    bench/bench_views bench/bench_norm bench/bench_attention tools/adjoint"
known=$(ninja -C "$build" -t targets all 2>/dev/null | sed -n 's/^\(bench\/[a-z_]*\): .*/\1/p')
have() { printf '%s\n' "$known" | grep -qx "bench/$1"; }
for opt in bench_min_tape bench_gpt bench_rnn bench_peak; do
    if have $opt; then targets="$targets bench/$opt"; fi
done
ninja -C "$build" $targets >/dev/null

bin="$build/bench"
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT INT TERM

# what runs: adjoint's header, and the same BLIS kernels for PyTorch
info=$("$build/tools/adjoint" info)
printf '%s\n' "$info" >&2
printf 'info\t0\tinfo\t# adjoint info: %s\n' "$(printf '%s' "$info" | tr -s ' ' | sed 's/$/;/' | tr -d '\n')" >>"$raw"
# adjoint's sub-configuration, and the one BLIS takes when left to itself
# (the same where BLIS_ARCH_TYPE is set)
arch=$(printf '%s\n' "$info" | sed -n 's/.*sub-configuration \([a-z0-9_]*\).*/\1/p')
own=$(ADJ_BLIS_ARCH=blis "$build/tools/adjoint" info |
    sed -n 's/.*sub-configuration \([a-z0-9_]*\).*/\1/p')
torch_env=""
if [ -z "${BLIS_ARCH_TYPE:-}" ] && [ "$torch_blis" = same ]; then
    id=$("$py" "$here/blis_arch.py" "$arch" 2>/dev/null || true)
    if [ -n "$id" ]; then
        torch_env="BLIS_ARCH_TYPE=$id BENCH_BLIS_ARCH=$arch BENCH_BLIS_FROM=run.sh"
        echo "PyTorch's BLIS: sub-configuration $arch (BLIS_ARCH_TYPE=$id), as adjoint's" >&2
    fi
fi
if [ -z "$torch_env" ]; then
    # PyTorch's BLIS chooses as any BLIS does in this environment
    from=BLIS
    [ -z "${BLIS_ARCH_TYPE:-}" ] || from=BLIS_ARCH_TYPE
    torch_env="BENCH_BLIS_ARCH=${own:-unknown} BENCH_BLIS_FROM=$from"
    echo "PyTorch's BLIS: sub-configuration ${own:-unknown}, chosen by $from" >&2
fi

# run ENGINE THREADS KEY COMMAND...: one line per result, tagged
run() {
    engine=$1 t=$2 key=$3
    shift 3
    "$@" | while IFS= read -r line; do
        printf '%s\t%s\t%s\t%s\n' "$engine" "$t" "$key" "$line" >>"$raw"
    done
}

# the machine's FMA peak (float and double, 1 thread and the largest count
# asked for), which report.py divides the MLP step's GFLOP/s by
if have bench_peak; then
    tmax=$(printf '%s\n' $threads | sort -n | tail -1)
    peak_reps=7
    [ $quick -eq 0 ] || peak_reps=3
    run machine "$tmax" peak "$bin/bench_peak" "$tmax" $peak_reps
fi

# pair KEY RSS "ADJOINT COMMAND" "PYTORCH COMMAND": the two engines, one
# after the other; the order flips on every call so drift hits both
# equally.  RSS names the model whose peak resident set is measured from
# outside (peak_rss.py), or "-".
flip=0
pair() {
    key=$1 rss=$2 a=$3 p=$4
    wrap=""
    [ "$rss" = - ] || wrap="$py $here/peak_rss.py $rss"
    if [ $flip -eq 0 ]; then
        run adjoint "$t" "$key" $wrap $a
        run pytorch "$t" "$key" env $torch_env $wrap $p
        flip=1
    else
        run pytorch "$t" "$key" env $torch_env $wrap $p
        run adjoint "$t" "$key" $wrap $a
        flip=0
    fi
    printf '.' >&2
}

# both KEY "ADJOINT COMMAND" "TORCH_BENCH ARGS"
both() {
    pair "$1" - "$2" "$py $here/torch_bench.py $3"
}

# side KEY COMMAND...: a script that runs both engines itself, at 1 and 2
# threads; each JSON line names its engine ("engine" or "impl") and threads,
# and its benchmarks' header lines ("# ...") are kept as they are
side() {
    key=$1
    shift
    env $torch_env "$@" | while IFS= read -r line; do
        case "$line" in
        "# "*)
            printf 'side\t0\t%s\t%s\n' "$key" "$line" >>"$raw"
            ;;
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
    reps_small=1 reps_big=0 ew_reps=3 tiny="3 100" mem_steps=50 steps=5 conv_steps=2 cnn_steps=2
    steps_side=3 batches="64 256" model_steps=3 conv_batches="64 256"
    [ $smoke -eq 0 ] || batches=64 conv_batches=64 model_steps=1
else
    reps_small=3 reps_big=1 ew_reps=21 tiny="11 500" mem_steps=2000 steps=100 conv_steps=20 cnn_steps=30
    steps_side=20 batches="16 32 64 128 256 512" model_steps=20 conv_batches="64 256"
fi

for t in $threads; do
    printf 'threads %s ' "$t" >&2
    both chain_1e5 "$bin/bench_chain 100000 $reps_small" "chain 100000 $reps_small"
    if have bench_min_tape; then
        run floor "$t" chain_1e5 "$bin/bench_min_tape" 100000 $reps_small
    fi
    if [ $reps_big -gt 0 ]; then
        both chain_1e6 "$bin/bench_chain 1000000 $reps_big" "chain 1000000 $reps_big"
        if have bench_min_tape; then
            run floor "$t" chain_1e6 "$bin/bench_min_tape" 1000000 $reps_big
        fi
    fi
    for b in $batches; do
        rss=-
        [ $b -eq 256 ] || [ $smoke -eq 1 ] && rss=mlp
        pair "mlp_b$b" $rss "$bin/bench_mlp $b $t $steps" "$py $here/torch_bench.py mlp $b $t $steps"
        case $b in 64|256)
            # the step as a newcomer writes it: no thread call, the
            # library's default count from the environment
            run adjoint "$t" "mlp_natural_b$b" env ADJ_NUM_THREADS=$t \
                "$bin/bench_mlp" $b $t $steps natural
            # and on BLIS's own kernels where adjoint chose others: the
            # measure of that choice, in every run
            if [ -n "$own" ] && [ "$own" != "$arch" ]; then
                run adjoint "$t" "mlp_blis_own_b$b" env ADJ_BLIS_ARCH=blis \
                    "$bin/bench_mlp" $b $t $steps
            fi ;;
        esac
    done
    both tiny "$bin/bench_tiny $t $tiny" "tiny $t $tiny"
    if [ $smoke -eq 0 ]; then
        both elementwise "$bin/bench_elementwise 1000000 $ew_reps $t" "elementwise 1000000 $ew_reps $t"
        if [ $quick -eq 0 ]; then
            both gradcheck "$bin/bench_gradcheck $t" "gradcheck $t"
            both gradcheck_replay "$bin/bench_gradcheck $t replay" "gradcheck $t"
        fi
        both embedding "$bin/bench_embedding $t $steps" "embedding $t $steps"
        both bmm "$bin/bench_bmm $t $steps" "bmm $t $steps"
    fi
    # convolution (the Fashion-MNIST shapes), pooling and the CNN step
    for b in $conv_batches; do
        for shape in "1 32 28" "32 64 14"; do
            [ $smoke -eq 0 ] || continue
            both "conv_$(echo $shape | tr ' ' _)_b$b" "$bin/bench_conv conv $shape $b $t $conv_steps" \
                "conv $shape $b $t $conv_steps"
        done
        rss=-
        [ $b -eq 64 ] && rss=cnn
        pair "cnn_b$b" $rss "$bin/bench_cnn $b $t $cnn_steps" "$py $here/torch_bench.py cnn $b $t $cnn_steps"
        run adjoint "$t" "cnn_natural_b$b" env ADJ_NUM_THREADS=$t "$bin/bench_cnn" $b $t $cnn_steps natural
    done
    both pool "$bin/bench_conv pool 32 28 64 $t $conv_steps" "pool 32 28 64 $t $conv_steps"
    # the model steps (GPT, LSTM, GRU), with their peak resident sets
    if have bench_gpt; then
        pair gpt gpt "$bin/bench_gpt $t $model_steps" "$py $here/bench_steps.py gpt $t $model_steps"
    fi
    if have bench_rnn; then
        for cell in lstm gru; do
            pair $cell $cell "$bin/bench_rnn $cell $t $model_steps" \
                "$py $here/bench_steps.py $cell $t $model_steps"
        done
    fi
    if [ $smoke -eq 0 ]; then
        both memory "$bin/bench_mlp 256 $t $mem_steps memory" "mlp 256 $t $mem_steps memory"
        both views "$bin/bench_views $t $ew_reps" "views $t $ew_reps"
    fi
    echo >&2
done
if [ $smoke -eq 0 ]; then
    # these run both engines at 1 and 2 threads themselves
    printf 'side by side ' >&2
    side norm "$py" "$here/bench_norm.py" "$bin/bench_norm" $steps_side
    side attention "$py" "$here/bench_attention.py" "$bin/bench_attention" $steps_side
    echo >&2
fi

if [ $tta -eq 1 ]; then
    # time to 0.90 test accuracy: the default `adjoint train` (MLP on
    # Fashion-MNIST) and PyTorch on the same recipe (adjoint's He-normal
    # initialisation too), at the largest thread count asked for.  PyTorch
    # stops after the epoch that reaches it (its schedule still planned
    # over the 20 epochs); adjoint runs its 20.
    t=$(printf '%s\n' $threads | sort -n | tail -1)
    tta_acc=0.90
    printf 'time to accuracy (%s threads) ' "$t" >&2
    dir=$(mktemp -d)
    pair tta - "$build/tools/adjoint train --threads $t --out $dir --json" \
        "$py $here/fmnist_torch.py --model mlp --threads $t --init he_normal --stop-at $tta_acc"
    rm -rf "$dir"
    echo >&2
fi

[ "$baseline" = none ] && baseline=""
[ -z "$keep_raw" ] || cp "$raw" "$keep_raw"
"$py" "$here/report.py" "$raw" "$out" ${baseline:+--baseline "$baseline"} --svg "$svg" \
    --markdown "${out%.json}.md" ${new_base:+--write-baseline "$new_base"}
