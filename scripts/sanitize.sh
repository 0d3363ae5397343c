#!/usr/bin/env bash
# Sanitizer builds (not yet part of .ci/run: see docs/errors.md for the open findings):
#   address  every binary (host, plugins, tests) with AddressSanitizer and UndefinedBehaviorSanitizer,
#            and the test suite run there (build-asan/).
#   scripts/sanitize.sh address
# ThreadSanitizer (-DMDLAB_SANITIZE=thread builds) cannot see the hand-off of tasks inside
# Debian's libtbb, which is not instrumented, and reports every value passed between flow-graph
# nodes or into a parallel loop; it needs a oneTBB built with TBB_SANITIZE=thread.
# Environment: JOBS (default: number of cores). Packages: those of scripts/bootstrap.sh test.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="${JOBS:-$(nproc)}"
mode="${1:-address}"
# ccache (when installed) with paths taken relative to the checkout, so that a fresh clone
# reuses what an earlier build compiled.
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$here" CCACHE_NOHASHDIR=1
fi

configure_and_build() {  # build folder, sanitizers, [targets...] (default: everything)
  local dir="$1" sanitizers="$2"
  shift 2
  cmake -S "$here" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMDLAB_SANITIZE="$sanitizers" \
        "${launcher[@]}" >/dev/null
  if (($#)); then cmake --build "$dir" -j "$jobs" --target "$@"; else cmake --build "$dir" -j "$jobs"; fi
}

# The fuzzers carry their own sanitizers (fuzz.smoke); the benchmark command's test measures
# speed; neither says more under a sanitizer.
address() {
  configure_and_build "$here/build-asan" address,undefined
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$here/scripts/ubsan.supp" \
    ctest --test-dir "$here/build-asan" --output-on-failure -j "$jobs" -E '^(fuzz\.smoke|cli\.test_bench_command)$'
}

case "$mode" in
  address) address ;;
  *) echo "usage: $0 address" >&2; exit 2 ;;
esac
