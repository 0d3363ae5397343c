#!/usr/bin/env bash
# Sanitizer builds, run by .ci/run after the normal test suite:
#   address  every binary (host, plugins, tests) with AddressSanitizer and UndefinedBehaviorSanitizer,
#            and the test suite run there (build-asan/);
#   thread   the same with ThreadSanitizer, running the tests that execute flow graphs (build-tsan/).
#   scripts/sanitize.sh address|thread|all
# Environment: JOBS (default: number of cores). Packages: those of scripts/bootstrap.sh test.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="${JOBS:-$(nproc)}"
mode="${1:-all}"
# ccache (when installed) with paths taken relative to the checkout, so that a fresh clone
# reuses what an earlier build compiled.
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$here" CCACHE_NOHASHDIR=1
fi

configure_and_build() {  # build folder, sanitizers, targets...
  local dir="$1" sanitizers="$2"
  shift 2
  cmake -S "$here" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMDLAB_SANITIZE="$sanitizers" \
        "${launcher[@]}" >/dev/null
  cmake --build "$dir" -j "$jobs" "$@"
}

# The fuzzers carry their own sanitizers (fuzz.smoke); the benchmark command's test measures
# speed; neither says more under a sanitizer.
address() {
  configure_and_build "$here/build-asan" address,undefined
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$here/build-asan" --output-on-failure -j "$jobs" -E '^(fuzz\.smoke|cli\.test_bench_command)$'
}

# The tests that run pipelines as oneTBB flow graphs with several threads.
thread_tests=(cli_test_reproducibility cli_test_sweeps cli_test_resume cli_test_plugin_faults)
thread() {
  configure_and_build "$here/build-tsan" thread mdlab mdlab_plugins_all mdlab_test_fixtures "${thread_tests[@]}"
  local regex
  regex="^cli\\.($(IFS='|'; echo "${thread_tests[*]#cli_}"))\$"
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
    ctest --test-dir "$here/build-tsan" --output-on-failure -j "$jobs" -R "$regex"
}

case "$mode" in
  address) address ;;
  thread) thread ;;
  all) address; thread ;;
  *) echo "usage: $0 address|thread|all" >&2; exit 2 ;;
esac
