#!/usr/bin/env bash
# Sanitizer builds, run by .ci/run after the test suite:
#   address  every binary (host, plugins, tests) with AddressSanitizer and UndefinedBehaviorSanitizer,
#            and the test suite run there (build-asan/).
#   thread   the graph execution tests under ThreadSanitizer (build-tsan/). Debian's libtbb is not
#            instrumented, so ThreadSanitizer would not see oneTBB hand work from one thread to
#            another and would report every value passed between flow-graph nodes. This mode
#            therefore builds oneTBB itself, from the source of the very Debian package
#            (deb.debian.org, checked against the package's SHA-256), with TBB_SANITIZE=thread.
#   scripts/sanitize.sh address|thread|all|ci     (ci: what .ci/run runs, see address())
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

extra_cmake=()  # more configure options for configure_and_build
configure_and_build() {  # build folder, sanitizers, [targets...] (default: everything)
  local dir="$1" sanitizers="$2"
  shift 2
  cmake -S "$here" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMDLAB_SANITIZE="$sanitizers" \
        "${launcher[@]}" "${extra_cmake[@]}" >/dev/null
  if (($#)); then cmake --build "$dir" -j "$jobs" --target "$@"; else cmake --build "$dir" -j "$jobs"; fi
}

# The fuzzers carry their own sanitizers (fuzz.smoke); the benchmark command's test measures
# speed; neither says more under a sanitizer. `address ci` also leaves out the four claim
# experiments (about 10 minutes under the sanitizers; their plugins are tested on their own), the
# tests that build out-of-tree projects or drive other programs (qemu, Chromium) and the libtorch
# plugins with their tests (libtorch is not instrumented): the release suite runs them.
address() {
  local skip='^(fuzz\.smoke|cli\.test_bench_command)$'
  # ci: the tests left out are not even compiled (MDLAB_TEST_SKIP, tests/CMakeLists.txt).
  local not_built=''
  if [[ ${1:-} == ci ]]; then
    skip='^(fuzz\.smoke|cli\.test_bench_command|cli\.test_claim[0-9]_.*|plugins\.sampler\.test_drifting_generator)$'
    not_built='^test_(bench_command|claim[0-9]_.*|out_of_tree.*|isa_qemu|report_chromium|drifting_generator)$'
  fi
  extra_cmake=(-DMDLAB_TEST_SKIP="$not_built")
  # ci: without the libtorch plugins (mlp, drifting_generator): libtorch is not instrumented and
  # its headers take most of their build; their tests then skip, saying so.
  [[ ${1:-} == ci ]] && extra_cmake+=(-DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON)
  configure_and_build "$here/build-asan" address,undefined
  extra_cmake=()
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$here/scripts/ubsan.supp" \
    ctest --test-dir "$here/build-asan" --output-on-failure -j "$jobs" -E "$skip"
}

# oneTBB 2021.8.0 (Debian 12's libtbb-dev) built with ThreadSanitizer into $1/install.
onetbb_version=2021.8.0
onetbb_sha256=7e9111b8bb59c8800bf6d0b06afe7b0891937443d2dae1ee1101c8e2ede6a7ef
instrumented_onetbb() {
  local root="$1" archive="$1/onetbb_${onetbb_version}.orig.tar.xz"
  [[ -f "$root/install/.complete" ]] && return 0
  mkdir -p "$root"
  if ! echo "$onetbb_sha256  $archive" | sha256sum -c --status 2>/dev/null; then
    curl -sSf -o "$archive.part" "http://deb.debian.org/debian/pool/main/o/onetbb/onetbb_${onetbb_version}.orig.tar.xz"
    echo "$onetbb_sha256  $archive.part" | sha256sum -c --status || { echo "sanitize: oneTBB source checksum mismatch" >&2; exit 1; }
    mv "$archive.part" "$archive"
  fi
  rm -rf "$root/src" "$root/build" "$root/install"
  mkdir -p "$root/src"
  tar xf "$archive" -C "$root/src" --strip-components=1
  cmake -S "$root/src" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTBB_SANITIZE=thread \
        -DTBB_TEST=OFF -DTBB_EXAMPLES=OFF -DTBB_STRICT=OFF -DTBBMALLOC_BUILD=OFF -DTBB_DISABLE_HWLOC_AUTOMATIC_SEARCH=ON \
        -DCMAKE_INSTALL_PREFIX="$root/install" -DCMAKE_INSTALL_LIBDIR=lib "${launcher[@]}" >/dev/null
  cmake --build "$root/build" -j "$jobs" >/dev/null
  cmake --install "$root/build" >/dev/null
  touch "$root/install/.complete"
}

# The tests that run sweeps through the flow graph, with plugins using parallel loops inside.
thread_tests='^(cli\.test_reproducibility|cli\.test_sweeps|cli\.test_plugin_faults|plugins\.estimator\.empirical)$'

# ... and the plugins they use (building all plugins with ThreadSanitizer takes long).
thread_plugins='circle;vp;empirical;kernel_smoothed;oracle;euler_maruyama;pf_ode_heun;manifold_distance;memorization'

thread() {
  local dir="$here/build-tsan"
  instrumented_onetbb "$dir/onetbb"
  extra_cmake=(-DCMAKE_PREFIX_PATH="$dir/onetbb/install" -DTBB_DIR="$dir/onetbb/install/lib/cmake/TBB"
               "-DMDLAB_BUILD_PLUGINS=$thread_plugins")
  configure_and_build "$dir" thread mdlab mdlab_plugins_all mdlab_test_fixtures \
    cli_test_reproducibility cli_test_sweeps cli_test_plugin_faults plugins_estimator
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" \
    ctest --test-dir "$dir" --output-on-failure -j "$jobs" -R "$thread_tests"
}

case "$mode" in
  address) address ;;
  thread) thread ;;
  all) address; thread ;;
  ci) address ci; thread ;;  # what .ci/run runs
  *) echo "usage: $0 address|thread|all|ci" >&2; exit 2 ;;
esac
