#!/usr/bin/env bash
# One-command set-up on Debian: install what is missing, build, then
#   tools/bootstrap.sh train [adjoint train options]   train the default model
#   tools/bootstrap.sh test                            run every test suite
# (plain build, clang build, then AddressSanitizer + UBSan).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-train}
shift || true

packages=(meson ninja-build pkg-config gcc check libsubunit-dev libblis-dev zlib1g-dev
          dataset-fashion-mnist graphviz)
[ "$mode" = test ] && packages+=(clang)

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

    echo "== build (clang, warnings as errors)"
    rm -rf build-test-clang
    CC=clang meson setup build-test-clang -Dwerror=true
    ninja -C build-test-clang -j "$jobs"

    echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
    rm -rf build-test-asan
    meson setup build-test-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
    ninja -C build-test-asan -j "$jobs"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        meson test -C build-test-asan --print-errorlogs --num-processes "$jobs" --timeout-multiplier 4
    echo "== every suite passed"
    ;;
*)
    echo "usage: tools/bootstrap.sh train [options] | test" >&2
    exit 2
    ;;
esac
