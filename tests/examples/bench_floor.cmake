# bench_floor.cmake - `qprep bench --floor IN BYTES OUT` (the I/O floor that
# bench --process times) writes exactly BYTES bytes, the input's text over
# and over; 0 bytes gives an empty file; a bad count is a usage error.
#
#   cmake -DQPREP=EXE -DINPUT=IN.qg -DWORK=DIR -P bench_floor.cmake

cmake_minimum_required(VERSION 3.16)
foreach(var QPREP INPUT WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "bench_floor.cmake: -D${var}=... is required")
  endif()
endforeach()
file(MAKE_DIRECTORY ${WORK})
file(SIZE ${INPUT} n)
math(EXPR want "${n} * 2 + ${n} / 2 + 7") # not a multiple of the input
foreach(bytes ${want} 0)
  file(REMOVE ${WORK}/floor.out)
  execute_process(COMMAND ${QPREP} bench --floor ${INPUT} ${bytes} ${WORK}/floor.out
                  ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc STREQUAL "0" OR err)
    message(FATAL_ERROR "qprep bench --floor failed (${rc}):\n${err}")
  endif()
  file(SIZE ${WORK}/floor.out got)
  if(NOT got EQUAL bytes)
    message(FATAL_ERROR "--floor ${bytes} wrote ${got} bytes")
  endif()
endforeach()
# the content: the input, then the input again from its start
file(REMOVE ${WORK}/floor.out)
execute_process(COMMAND ${QPREP} bench --floor ${INPUT} ${want} ${WORK}/floor.out RESULT_VARIABLE rc)
file(READ ${INPUT} in HEX)
file(READ ${WORK}/floor.out first HEX LIMIT ${n})
file(READ ${WORK}/floor.out second HEX OFFSET ${n} LIMIT ${n})
if(NOT first STREQUAL in OR NOT second STREQUAL in)
  message(FATAL_ERROR "--floor did not write the input's text twice over")
endif()
execute_process(COMMAND ${QPREP} bench --floor ${INPUT} -5 ${WORK}/floor.out
                ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc STREQUAL "2")
  message(FATAL_ERROR "--floor with a negative count: status ${rc}, not 2")
endif()
message(STATUS "--floor wrote ${want} and 0 bytes")
