# mdlab_add_plugin(<name> SOURCES <files>... [LINK <targets>...] [HEAVY])
#
# Builds the plugin library mdlab_<name>.so against the mdlab SDK, with the SIMD and -march
# settings of the mdlab it will be loaded into, and only the plugin entry points exported.
# The library lands in MDLAB_PLUGIN_OUTPUT_DIR when that is set, else in the current binary
# folder; point `mdlab --plugin-dir` or MDLAB_PLUGIN_PATH at that folder to load it.
# In mdlab's own build a plugin joins mdlab_plugins_all, which the `mdlab` target depends on;
# a HEAVY one (a large dependency, like libtorch) joins mdlab_plugins_heavy instead, which the
# default target and the tests build but `--target mdlab` (the quickstart) does not wait for.
function(mdlab_add_plugin name)
  cmake_parse_arguments(ARG "HEAVY" "" "SOURCES;LINK" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "mdlab_add_plugin(${name}): give the plugin's SOURCES")
  endif()
  set(target mdlab_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE mdlab::sdk ${ARG_LINK})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(MDLAB_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${MDLAB_PLUGIN_OUTPUT_DIR})
  endif()
  if(ARG_HEAVY AND TARGET mdlab_plugins_heavy)
    add_dependencies(mdlab_plugins_heavy ${target})
  elseif(TARGET mdlab_plugins_all)
    add_dependencies(mdlab_plugins_all ${target})
  endif()
  if(MDLAB_INSTALL_PLUGIN_DIR)
    # Installed next to the host's plugins (lib/mdlab/plugins): libmdlab_kernels.so is in lib/.
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "$ORIGIN/../..")
    install(TARGETS ${target} LIBRARY DESTINATION ${MDLAB_INSTALL_PLUGIN_DIR})
  endif()
endfunction()

# mdlab_add_isa_sources(<target> SOURCES <files>...)
#
# Compiles each source once per instruction-set path, as libmdlab_kernels does for its kernels:
# generic (the build's baseline -march), avx2 (-march=x86-64-v3: AVX2, FMA, BMI2) and avx512
# (-march=x86-64-v4: AVX-512 F/CD/BW/DQ/VL). Each copy is compiled with MDLAB_ISA_SOURCE set to
# its path, so code written in `namespace mdlab::kernels::MDLAB_ISA_NAMESPACE` (or any namespace
# named after it; mdlab/kernels/simd_vector.hpp defines it) gets one namespace per path; the
# plugin then calls the copy mdlab::isa::active() names (docs/writing-plugins.md shows how).
# The copies are added after the target's other sources, baseline first: where the same inline
# function is compiled in several copies, the linker keeps the first, so code that the baseline
# runs is always baseline code.
set(MDLAB_ISA_PATHS generic avx2 avx512)
set(MDLAB_ISA_FLAGS_generic "")
set(MDLAB_ISA_FLAGS_avx2 "-march=x86-64-v3")
set(MDLAB_ISA_FLAGS_avx512 "-march=x86-64-v4")
function(mdlab_add_isa_sources target)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "mdlab_add_isa_sources(${target}): give the SOURCES to compile per path")
  endif()
  foreach(isa IN LISTS MDLAB_ISA_PATHS)
    foreach(src IN LISTS ARG_SOURCES)
      get_filename_component(abs "${src}" ABSOLUTE)
      get_filename_component(name "${src}" NAME)
      set(copy "${CMAKE_CURRENT_BINARY_DIR}/mdlab_isa/${target}/${isa}/${name}")
      file(CONFIGURE OUTPUT "${copy}" CONTENT "// ${isa} copy of ${abs} (mdlab_add_isa_sources)\n#include \"${abs}\"\n")
      set_source_files_properties("${copy}" PROPERTIES
        COMPILE_DEFINITIONS "MDLAB_ISA_SOURCE=${isa}"
        COMPILE_OPTIONS "${MDLAB_ISA_FLAGS_${isa}}"
        OBJECT_DEPENDS "${abs}")
      target_sources(${target} PRIVATE "${copy}")
    endforeach()
  endforeach()
endfunction()
