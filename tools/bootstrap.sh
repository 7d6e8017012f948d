#!/usr/bin/env bash
# One-command set-up on Debian: install what is missing, build, then
#   tools/bootstrap.sh train [adjoint train options]   train the default model
#   tools/bootstrap.sh test                            run every test suite
# (plain build, MPI across two network namespaces when root, clang build,
# AddressSanitizer + UBSan + LeakSanitizer, ThreadSanitizer over the
# threaded suites, then each libFuzzer target for FUZZ_SECONDS, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-train}
shift || true

packages=(meson ninja-build pkg-config gcc check libsubunit-dev libblis-dev zlib1g-dev libcjson-dev
          dataset-fashion-mnist graphviz)
# test: clang needs libomp-dev (blis.h includes omp.h, which clang finds only
# there); chromium (rendering), python3-torch and python3-numpy (reference
# results), wamerican (a word list) and cmake (the CMake package check)
# serve the tests
[ "$mode" = test ] && packages+=(clang libclang-rt-14-dev libomp-dev libopenmpi-dev openmpi-bin
                                 iproute2 chromium python3-torch python3-numpy cmake
                                 wamerican)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

jobs=$(nproc)

case "$mode" in
train)
    [ -d build ] || meson setup build --buildtype=release
    ninja -C build -j "$jobs"
    exec ./build/tools/adjoint train "$@"
    ;;
test)
    echo "== build (gcc, warnings as errors) and test"
    rm -rf build-test
    meson setup build-test -Dwerror=true
    ninja -C build-test -j "$jobs"
    meson test -C build-test --print-errorlogs --num-processes "$jobs"

    echo "== MPI: 2 ranks in 2 network namespaces, TCP over a veth pair"
    if [ -x build-test/tests/model_close ]; then
        rc=0
        tests/mpi_two_hosts.sh build-test/tools/adjoint build-test/tests/model_close || rc=$?
        [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] || exit 1   # 77: skipped, reason printed
    else
        echo "skipped: built without MPI"
    fi

    echo "== build (clang, warnings as errors)"
    rm -rf build-test-clang
    CC=clang meson setup build-test-clang -Dwerror=true
    ninja -C build-test-clang -j "$jobs"

    echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
    rm -rf build-test-asan
    meson setup build-test-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
    ninja -C build-test-asan -j "$jobs"
    # LeakSanitizer must be live here (it is not under ptrace or in some
    # containers): a deliberate leak has to fail, or the stage proves nothing
    printf '#include <stdlib.h>\nint main(void) { void *volatile p = malloc(99); p = 0; return p != 0; }\n' \
        > build-test-asan/leak-canary.c
    cc -fsanitize=address -o build-test-asan/leak-canary build-test-asan/leak-canary.c
    if ASAN_OPTIONS=detect_leaks=1 build-test-asan/leak-canary 2>/dev/null; then
        echo "LeakSanitizer does not detect leaks on this machine" >&2
        exit 1
    fi
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        meson test -C build-test-asan --print-errorlogs --num-processes "$jobs" --timeout-multiplier 4

    echo "== ThreadSanitizer: tapes, models and files in threads"
    rm -rf build-test-tsan
    meson setup build-test-tsan -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debug
    ninja -C build-test-tsan -j "$jobs" tests/test_tape tests/test_threads tests/test_pool
    # setarch -R: TSan's memory layout does not fit high mmap randomisation
    # die_after_fork=0: tests/test_pool.c checks that a child of fork() can
    # use the pool (it starts threads after a multi-threaded fork)
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:die_after_fork=0 \
        setarch "$(uname -m)" -R meson test -C build-test-tsan --no-rebuild --print-errorlogs \
        --timeout-multiplier 4 tape threads pool

    echo "== libFuzzer: model files, IDX (plain and gzip), CSV, safetensors, BPE files (${FUZZ_SECONDS:=60} s each)"
    rm -rf build-test-fuzz
    CC=clang meson setup build-test-fuzz -Dfuzz=true -Dtests=false \
        -Db_sanitize=address,undefined -Db_lundef=false
    ninja -C build-test-fuzz -j "$jobs"
    for target in model idx idx_gz csv safetensors bpe; do
        mkdir -p "build-test-fuzz/corpus-$target"
        log="build-test-fuzz/fuzz-$target.log"
        rc=0
        ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            "build-test-fuzz/tests/fuzz/fuzz_$target" "build-test-fuzz/corpus-$target" \
            "tests/fuzz/corpus/$target" -max_total_time="$FUZZ_SECONDS" -max_len=8192 \
            -timeout=20 -print_final_stats=1 -artifact_prefix="build-test-fuzz/$target-" \
            > "$log" 2>&1 || rc=$?
        echo "fuzz_$target: $(grep -m1 stat::number_of_executed_units "$log" || echo no stats)"
        if [ "$rc" -ne 0 ]; then
            tail -n 80 "$log" >&2
            echo "fuzz_$target found a failure (input saved as build-test-fuzz/$target-*)" >&2
            exit 1
        fi
    done
    echo "== every suite passed"
    ;;
*)
    echo "usage: tools/bootstrap.sh train [options] | test" >&2
    exit 2
    ;;
esac
