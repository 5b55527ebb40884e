# check.cmake - the steps of the newcomer tests (registered by CMakeLists.txt here):
#
#   -DCASE=newcomer_configure          `cmake -S SOURCE -B WORK` with cmocka hidden must
#                                      succeed and say once that the tests are off and how
#                                      to get them (`sh tests/run.sh`)
#   -DCASE=newcomer_tests_need_cmocka  the same with -DQP_BUILD_TESTS=ON must fail saying
#                                      that the tests need cmocka and how to get it
#
# Also: -DSH= -DHIDE= (.ci/without-cmocka.sh) -DWORK= (wiped first) -DGENERATOR=
# -DMAKE_PROGRAM=. Where cmocka cannot be hidden (no mount namespace) it prints
# "QP_SKIP: ..." (the test's SKIP_REGULAR_EXPRESSION).
cmake_minimum_required(VERSION 3.16)

if(NOT SH)
  message("QP_SKIP: no sh to run ${HIDE}")
  return()
endif()

set(args -S "${SOURCE}" -B "${WORK}" -G "${GENERATOR}")
if(MAKE_PROGRAM)
  list(APPEND args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CASE STREQUAL "newcomer_tests_need_cmocka")
  list(APPEND args -DQP_BUILD_TESTS=ON)
endif()

file(REMOVE_RECURSE "${WORK}")
execute_process(COMMAND "${SH}" "${HIDE}" "${CMAKE_COMMAND}" ${args}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
message(STATUS "configure with cmocka hidden (exit ${rc}):\n${out}")
string(REGEX MATCH "without-cmocka: no mount namespace[^\n]*" why "${out}")
if(rc STREQUAL "77" AND why)
  message("QP_SKIP: cmocka cannot be hidden here, ${why}")
  return()
endif()
if(NOT out MATCHES "without-cmocka: hid [1-9]")
  message(FATAL_ERROR "${HIDE} did not say what it hid (exit ${rc})")
endif()
if(rc STREQUAL "70")
  message(FATAL_ERROR "${HIDE} could not hide cmocka")
endif()

# The messages, with CMake's wrapping of an error undone.
string(REGEX REPLACE "[ \n]+" " " flat "${out}")
if(CASE STREQUAL "newcomer_configure")
  if(NOT rc STREQUAL "0")
    message(FATAL_ERROR "configure failed without cmocka (exit ${rc})")
  endif()
  string(REGEX MATCHALL "cmocka not found, so the tests are off" said "${flat}")
  list(LENGTH said n)
  if(NOT n EQUAL 1)
    message(FATAL_ERROR "configure said ${n} times that the tests are off, not once")
  endif()
  if(NOT flat MATCHES "tests are off[^\n]*To get the tests: `sh tests/run.sh` installs")
    message(FATAL_ERROR "the message does not say how to get the tests")
  endif()
  if(EXISTS "${WORK}/tests")
    message(FATAL_ERROR "the tests were configured without cmocka")
  endif()
else()
  if(rc STREQUAL "0")
    message(FATAL_ERROR "configure succeeded with -DQP_BUILD_TESTS=ON and no cmocka")
  endif()
  if(NOT flat MATCHES "QP_BUILD_TESTS=ON needs cmocka, which was not found")
    message(FATAL_ERROR "configure failed without saying that the tests need cmocka")
  endif()
  if(NOT flat MATCHES "`sh tests/run.sh` installs what the tests need")
    message(FATAL_ERROR "the message does not say how to get the tests")
  endif()
endif()
