#!/bin/sh
# Instructions per node of the scalar chain (bench_chain) under valgrind's
# callgrind: a machine-independent companion to the timings of run.sh.
#
#   bench/callgrind.sh [--build DIR] [nodes]
#
# bench_chain records and back-propagates its chain twice (one warm-up
# pass and one measured pass).  It runs at `nodes` and 2 x `nodes`
# (default 30000): the difference of the instruction counts divided by
# the difference of the node counts removes start-up and set-up costs.
# Backward is counted on its own by collecting inside adj_backward only
# (the call bench_chain makes); record = total - backward.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build="$root/build-rel"
if [ "${1:-}" = "--build" ]; then
    build=$2
    shift 2
fi
nodes=${1:-30000}
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 1; }
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" --buildtype=release -Dtests=false >/dev/null
fi
ninja -C "$build" bench/bench_chain >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# ir FILE: the total instruction count of a callgrind output file
ir() { sed -n 's/^summary: *\([0-9]*\).*/\1/p; s/^totals: *\([0-9]*\).*/\1/p' "$1" | tail -n 1; }

count() { # count NODES [extra valgrind options]: prints the Ir total
    n=$1
    shift
    valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$@" \
        "$build/bench/bench_chain" "$n" 1 >/dev/null 2>&1
    ir "$tmp/out"
}

n1=$nodes
n2=$((2 * nodes))
t1=$(count $n1)
t2=$(count $n2)
b1=$(count $n1 --toggle-collect=adj_backward)
b2=$(count $n2 --toggle-collect=adj_backward)
# two passes (warm-up + measured) per run; the chain has 3 (nodes / 3) nodes
awk -v t1="$t1" -v t2="$t2" -v b1="$b1" -v b2="$b2" -v n1="$n1" -v n2="$n2" 'BEGIN {
    d = 2 * (3 * int(n2 / 3) - 3 * int(n1 / 3));
    tot = (t2 - t1) / d; back = (b2 - b1) / d;
    printf "{\"workload\": \"scalar_chain_callgrind\", \"nodes\": [%d, %d], ", n1, n2;
    printf "\"record_instr_per_node\": %.1f, \"backward_instr_per_node\": %.1f, ", tot - back, back;
    printf "\"total_instr_per_node\": %.1f}\n", tot;
}'
