# bench_process.cmake - runs `qprep bench --process --json` on a small graph and
# checks the object: every field there and a number, the counts and sizes what
# a `qprep prepare --stats` of the same file gives, each median within its
# spread, the temporary directory gone; and that a graph prepare rejects fails
# the run, saying why.
#
#   cmake -DQPREP=EXE -DINPUT=IN.qg -DBAD=PREPARED.qg -DWORK=DIR -P bench_process.cmake

cmake_minimum_required(VERSION 3.16)
foreach(var QPREP INPUT BAD WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "bench_process.cmake: -D${var}=... is required")
  endif()
endforeach()

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/tmp)
execute_process(COMMAND ${CMAKE_COMMAND} -E env TMPDIR=${WORK}/tmp
                        ${QPREP} bench --process --repeat 3 --json ${INPUT}
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc STREQUAL "0" OR err)
  message(FATAL_ERROR "qprep bench --process failed (${rc}):\n${err}")
endif()
message(STATUS "${out}")
if(NOT out MATCHES "^{\"graph\": \"[^\"]*\", \"backend\": \"Tensorrt\", \"repeat\": 3, \"mode\": \"process\", ")
  message(FATAL_ERROR "not a process-mode object:\n${out}")
endif()

# field -> number (fails if missing)
function(field name var)
  if(NOT out MATCHES "\"${name}\": ([0-9]+(\\.[0-9]+)?)[,}]")
    message(FATAL_ERROR "no number \"${name}\" in:\n${out}")
  endif()
  set(${var} ${CMAKE_MATCH_1} PARENT_SCOPE)
endfunction()

# counts and sizes against a prepare of our own
execute_process(COMMAND ${QPREP} prepare --backend Tensorrt --stats ${INPUT} -o ${WORK}/p.qg
                ERROR_VARIABLE stats RESULT_VARIABLE rc)
if(NOT rc STREQUAL "0" OR NOT stats MATCHES "^nodes ([0-9]+) -> ([0-9]+), modules ([0-9]+) -> ([0-9]+)")
  message(FATAL_ERROR "qprep prepare --stats failed (${rc}):\n${stats}")
endif()
set(want_nodes_in ${CMAKE_MATCH_1})
set(want_nodes_out ${CMAKE_MATCH_2})
set(want_modules_in ${CMAKE_MATCH_3})
set(want_modules_out ${CMAKE_MATCH_4})
file(SIZE ${INPUT} want_bytes_in)
file(SIZE ${WORK}/p.qg want_bytes_out)
foreach(f nodes_in nodes_out modules_in modules_out bytes_in bytes_out)
  field(${f} got)
  if(NOT got EQUAL want_${f})
    message(FATAL_ERROR "${f} is ${got}, not ${want_${f}}")
  endif()
endforeach()

# each kind: median within min..max, all positive
foreach(k prepare floor empty)
  foreach(what us peak_rss)
    field(${k}_${what} med)
    field(${k}_${what}_min lo)
    field(${k}_${what}_max hi)
    if(NOT (lo GREATER 0 AND lo LESS_EQUAL med AND med LESS_EQUAL hi))
      message(FATAL_ERROR "${k}_${what}: ${lo} <= ${med} <= ${hi} does not hold")
    endif()
  endforeach()
  field(${k}_cpu_us cpu)
endforeach()
foreach(f prepare_over_floor prepare_over_empty peak_rss_per_node)
  field(${f} v)
  if(NOT v GREATER 0)
    message(FATAL_ERROR "${f} is ${v}")
  endif()
endforeach()

file(GLOB left ${WORK}/tmp/*)
if(left)
  message(FATAL_ERROR "left behind in TMPDIR: ${left}")
endif()

# a graph prepare rejects: the run fails and says why
execute_process(COMMAND ${CMAKE_COMMAND} -E env TMPDIR=${WORK}/tmp
                        ${QPREP} bench --process --repeat 2 ${BAD}
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(rc STREQUAL "0" OR NOT err MATCHES "warm-up prepare failed.*already prepared")
  message(FATAL_ERROR "bench --process on a prepared graph: status ${rc}, stderr:\n${err}")
endif()
file(GLOB left ${WORK}/tmp/*)
if(left)
  message(FATAL_ERROR "left behind in TMPDIR after a failure: ${left}")
endif()
