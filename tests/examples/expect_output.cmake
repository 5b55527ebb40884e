# expect_output.cmake - runs a program and checks that its standard output is
# byte for byte the expected qgraph text, comment lines ("#...") aside.
#
#   cmake -DPROGRAM=EXE [-DARGS=a;b] -DEXPECTED=FILE -DOUTPUT=FILE -P expect_output.cmake
#
# OUTPUT keeps what the program printed; a mismatch reports the first
# differing line (counting non-comment lines).

cmake_minimum_required(VERSION 3.16)

foreach(var PROGRAM EXPECTED OUTPUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "expect_output.cmake: -D${var}=... is required")
  endif()
endforeach()

execute_process(COMMAND ${PROGRAM} ${ARGS}
                OUTPUT_FILE ${OUTPUT}
                ERROR_VARIABLE err
                RESULT_VARIABLE rc)
if(NOT rc STREQUAL "0")
  message(FATAL_ERROR "${PROGRAM} failed (${rc}):\n${err}")
endif()
if(err)
  message(FATAL_ERROR "${PROGRAM} wrote to stderr:\n${err}")
endif()

# Drops every line that starts with '#'; the first line is the "qgraph 1" header.
function(strip_comments file out)
  file(READ ${file} text)
  string(REGEX REPLACE "\n#[^\n]*" "" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

strip_comments(${EXPECTED} want)
strip_comments(${OUTPUT} got)
if(got STREQUAL want)
  string(LENGTH "${got}" n)
  message(STATUS "${OUTPUT}: ${n} bytes (without comments) identical to ${EXPECTED}")
  return()
endif()

# Find the first differing line for the message.
set(line 1)
while(TRUE)
  string(FIND "${want}" "\n" iw)
  string(FIND "${got}" "\n" ig)
  if(iw EQUAL -1 OR ig EQUAL -1)
    string(SUBSTRING "${want}" 0 -1 w)
    string(SUBSTRING "${got}" 0 -1 g)
    break()
  endif()
  string(SUBSTRING "${want}" 0 ${iw} w)
  string(SUBSTRING "${got}" 0 ${ig} g)
  if(NOT w STREQUAL g)
    break()
  endif()
  math(EXPR iw "${iw} + 1")
  math(EXPR ig "${ig} + 1")
  string(SUBSTRING "${want}" ${iw} -1 want)
  string(SUBSTRING "${got}" ${ig} -1 got)
  math(EXPR line "${line} + 1")
endwhile()
foreach(v w g) # one line each; an empty one means the text ended
  string(FIND "${${v}}" "\n" i)
  if(NOT i EQUAL -1)
    string(SUBSTRING "${${v}}" 0 ${i} ${v})
  endif()
  if(${v} STREQUAL "")
    set(${v} "(end of text)")
  endif()
endforeach()
message(FATAL_ERROR "${OUTPUT} differs from ${EXPECTED} (comment lines aside) "
                    "at non-comment line ${line}:\n  expected: ${w}\n  actual:   ${g}")
