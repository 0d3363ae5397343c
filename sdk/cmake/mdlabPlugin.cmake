# mdlab_add_plugin(<name> SOURCES <files>... [LINK <targets>...])
#
# Builds the plugin library mdlab_<name>.so against the mdlab SDK, with the SIMD and -march
# settings of the mdlab it will be loaded into, and only the plugin entry points exported.
# The library lands in MDLAB_PLUGIN_OUTPUT_DIR when that is set, else in the current binary
# folder; point `mdlab --plugin-dir` or MDLAB_PLUGIN_PATH at that folder to load it.
function(mdlab_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LINK" ${ARGN})
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
  if(TARGET mdlab_plugins_all)
    add_dependencies(mdlab_plugins_all ${target})
  endif()
  if(MDLAB_INSTALL_PLUGIN_DIR)
    install(TARGETS ${target} LIBRARY DESTINATION ${MDLAB_INSTALL_PLUGIN_DIR})
  endif()
endfunction()
