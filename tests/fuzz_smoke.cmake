# The fuzz smoke test: builds the libFuzzer targets with clang (in their own build folder) and
# runs each for SECONDS seconds from its seed corpus. A crash, a sanitizer report, a leak, a
# timeout or an out-of-memory fails the test. Run longer by hand, see docs/errors.md.
#   cmake -DSOURCE_DIR=... -DBUILD_DIR=... -DGENERATOR=... -DSECONDS=20 -P fuzz_smoke.cmake
find_program(CLANGXX NAMES clang++ clang++-14)
if(NOT CLANGXX)
  message(FATAL_ERROR "clang++ is not installed: the fuzzers need clang and libFuzzer "
                      "(apt-get install clang libclang-rt-14-dev; scripts/bootstrap.sh test installs them)")
endif()
find_program(CCACHE ccache)
set(launcher)
if(CCACHE)
  set(launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${CCACHE})
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BUILD_DIR} -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CLANGXX}
                        -DMDLAB_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo ${launcher}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the fuzz build failed (is libclang-rt-14-dev installed?)")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target fuzz_pipeline fuzz_npy RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the fuzzers failed")
endif()

function(fuzz target seeds)
  # New inputs go to a fresh corpus folder; the seeds are only read.
  set(corpus ${BUILD_DIR}/corpus-${target})
  file(REMOVE_RECURSE ${corpus})
  file(MAKE_DIRECTORY ${corpus})
  execute_process(COMMAND ${BUILD_DIR}/fuzz/${target} -max_total_time=${SECONDS} -timeout=10 -rss_limit_mb=2048
                          -print_final_stats=1 ${corpus} ${seeds}
                  WORKING_DIRECTORY ${BUILD_DIR} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${target} found a failing input (exit ${rc}); it is saved in ${BUILD_DIR} as crash-*/leak-*/timeout-*")
  endif()
endfunction()
fuzz(fuzz_pipeline ${SOURCE_DIR}/pipelines)
fuzz(fuzz_npy ${SOURCE_DIR}/fuzz/corpus/npy)
