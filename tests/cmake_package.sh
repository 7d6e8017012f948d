#!/usr/bin/env bash
# find_package(adjoint) works: install the build into a scratch DESTDIR,
# then configure, build and run a CMake project (tests/cmake/) against it.
# Usage: cmake_package.sh BUILD_DIR PREFIX SOURCE_DIR.  Exit 77 (skipped,
# with the reason) when cmake is not installed.
set -euo pipefail
build=$1 prefix=$2 src=$3
if ! command -v cmake >/dev/null; then
    echo "skipped: cmake is not installed (apt-get install cmake)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet >/dev/null
root="$tmp/root$prefix"
[ -n "$(find "$root" -path '*/cmake/adjoint/adjointConfig.cmake')" ] ||
    { echo "no cmake/adjoint/adjointConfig.cmake under $root"; exit 1; }
cmake -S "$src/tests/cmake" -B "$tmp/b" -DCMAKE_PREFIX_PATH="$root" -DCMAKE_BUILD_TYPE=Release \
    >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/b" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
# a version the package does not satisfy is refused
mkdir -p "$tmp/v9"
printf 'cmake_minimum_required(VERSION 3.13)\nproject(v C)\nfind_package(adjoint 9.0 REQUIRED)\n' \
    >"$tmp/v9/CMakeLists.txt"
if cmake -S "$tmp/v9" -B "$tmp/v9b" -DCMAKE_PREFIX_PATH="$root" >"$tmp/v9.log" 2>&1; then
    echo "find_package(adjoint 9.0) was satisfied by $(grep -o '0\.[0-9.]*' "$tmp/v9.log" | head -1)"
    exit 1
fi
# the MPI component: found when built, refused by name when not
mkdir -p "$tmp/c"
printf 'cmake_minimum_required(VERSION 3.13)\nproject(c C)\nfind_package(adjoint REQUIRED COMPONENTS dist)\nadd_library(d INTERFACE)\ntarget_link_libraries(d INTERFACE adjoint::dist)\n' \
    >"$tmp/c/CMakeLists.txt"
if [ -n "$(find "$root" -name 'libadjoint_dist.so.*')" ]; then
    cmake -S "$tmp/c" -B "$tmp/cb" -DCMAKE_PREFIX_PATH="$root" >"$tmp/c.log" 2>&1 ||
        { echo "find_package(adjoint COMPONENTS dist) failed:"; cat "$tmp/c.log"; exit 1; }
else
    if cmake -S "$tmp/c" -B "$tmp/cb" -DCMAKE_PREFIX_PATH="$root" >"$tmp/c.log" 2>&1 ||
        ! grep -q "component dist is not installed" "$tmp/c.log"; then
        echo "find_package(adjoint COMPONENTS dist) without the dist library:"; cat "$tmp/c.log"
        exit 1
    fi
fi
# the installed library, not the build tree's, is what the program runs
libdir=$(dirname "$(find "$root" -name 'libadjoint.so.*' | head -1)")
LD_LIBRARY_PATH="$libdir" "$tmp/b/consumer"
