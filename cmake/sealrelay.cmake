# sealrelay_add_test(NAME <name> SOURCES <files...> LIBS <targets...> LABELS <labels...>
#                    [ENVIRONMENT <VAR=value...>])
# One GoogleTest executable; every TEST() in it becomes its own ctest entry
# carrying LABELS (in a cross build, the executable is one entry). A test
# that calls GTEST_SKIP() shows as skipped in ctest.
function(sealrelay_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS;ENVIRONMENT" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${T_NAME} PRIVATE
    SEALRELAY_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    SEALRELAY_BINARY_DIR="${PROJECT_BINARY_DIR}")
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  # A cross build's tests run under an emulator (cmake/toolchains/): label
  # cross, give them the time emulation takes, and make each executable one
  # ctest entry. Every emulator start costs (wine: seconds, and a wineserver
  # that comes and goes), so one start per executable, not per test; gtest's
  # output names a failing or skipped test.
  if(CMAKE_CROSSCOMPILING)
    list(APPEND T_LABELS cross)
    math(EXPR T_TIMEOUT "${T_TIMEOUT} * 4")
    add_test(NAME ${T_NAME} COMMAND ${T_NAME} --gtest_brief=1)
    set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
    if(T_ENVIRONMENT)
      set_tests_properties(${T_NAME} PROPERTIES ENVIRONMENT "${T_ENVIRONMENT}")
    endif()
    return()
  endif()
  set(discovery 30)
  # gtest_discover_tests flattens list values given in PROPERTIES (a second
  # label would become a property name and TIMEOUT be lost), so the
  # properties are set from a ctest include file on the discovered list.
  gtest_discover_tests(${T_NAME} TEST_LIST ${T_NAME}_TESTS DISCOVERY_TIMEOUT ${discovery})
  set(props ${CMAKE_CURRENT_BINARY_DIR}/${T_NAME}_properties.cmake)
  file(WRITE ${props} "if(${T_NAME}_TESTS)\n  set_tests_properties(\${${T_NAME}_TESTS} PROPERTIES LABELS \"${T_LABELS}\" TIMEOUT ${T_TIMEOUT} ENVIRONMENT \"${T_ENVIRONMENT}\")\nendif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${props})
endfunction()
