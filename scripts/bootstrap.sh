#!/usr/bin/env bash
# Sets up mdlab on Debian 12 and then runs the quickstart or the test suite.
#
#   scripts/bootstrap.sh quickstart   install what the quickstart needs, build the command and its
#                                     plugins (no tests, no libtorch), run pipelines/quickstart.json
#   scripts/bootstrap.sh test         install what is missing, build, run every test through CTest
#                                     (the Python package's tests through pytest among them)
#   scripts/bootstrap.sh build        install what is missing and build
#
# Packages come from Debian only. libboost-dev (Boost 1.74) is never installed: it conflicts
# with Boost 1.81. Environment: BUILD_DIR (default build), JOBS (default: number of cores).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-$here/build}"
jobs="${JOBS:-$(nproc)}"
mode="${1:-}"

case "$mode" in
  quickstart|test|build) ;;
  *) echo "usage: $0 quickstart|test|build" >&2; exit 2 ;;
esac

# What the quickstart needs: the runtime, the command and the plugins it loads.
packages=(g++ cmake ninja-build
          libboost1.81-dev libboost-json1.81-dev libtbb-dev
          libxtensor-dev xtl-dev libxsimd-dev
          libcli11-dev libfmt-dev libeigen3-dev)
# The rest of a full build: the tests (Catch2), `mpirun mdlab run` sharing a sweep among ranks
# (Open MPI, optional at build time) and the mlp estimator plugin (libtorch, the largest).
if [[ $mode != quickstart ]]; then packages+=(catch2 libopenmpi-dev openmpi-bin libtorch-dev); fi
# The Python package (import mdlab, python/) for Debian's /usr/bin/python3, and its tests.
if [[ $mode != quickstart ]]; then packages+=(python3-dev python3-numpy pybind11-dev python3-pytest); fi
# Tests only: headless Chromium renders report.html; clang and libFuzzer build the fuzzers;
# curl and xz-utils fetch and unpack oneTBB's Debian source for the ThreadSanitizer build;
# qemu-user emulates CPUs without AVX-512 and without AVX2 for the kernels' dispatch test.
if [[ $mode == test ]]; then packages+=(chromium clang libclang-rt-14-dev curl xz-utils ca-certificates qemu-user); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "mdlab: missing Debian packages: ${missing[*]}" >&2
    echo "       run as root, or: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 2
  fi
  echo "mdlab: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

generator=(-G Ninja)
[[ -f "$build_dir/CMakeCache.txt" ]] && generator=()  # keep the generator of an existing build
# ccache (when installed) with paths taken relative to the checkout, so that a fresh clone
# reuses what an earlier build compiled.
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$here" CCACHE_NOHASHDIR=1
fi
# The quickstart builds only the `mdlab` target: the runtime, the command and the plugins of
# mdlab_plugins_all; not the tests, and not the plugins with large dependencies (mlp, which a
# later `build` or `test` adds). An existing build keeps its tests.
targets=()
testing=(-DBUILD_TESTING=ON)
if [[ $mode == quickstart ]]; then
  targets=(--target mdlab)
  [[ -f "$build_dir/CMakeCache.txt" ]] && testing=() || testing=(-DBUILD_TESTING=OFF)
fi
cmake -S "$here" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "${testing[@]}" "${launcher[@]}" >/dev/null
cmake --build "$build_dir" -j "$jobs" "${targets[@]}"

case "$mode" in
  quickstart)
    cd "$here"
    exec "$build_dir/bin/mdlab" run pipelines/quickstart.json --out runs/quickstart --force ;;
  test)
    exec ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" ;;
  build) ;;
esac
