# Runs `qnum.py run QPREP DATA/cases` and passes only when it printed
# `N/N cases match` with N > 0 and exited 0. Without python3 (PYTHON empty or
# NOTFOUND) the test is skipped, saying so.
if(NOT PYTHON OR NOT EXISTS "${PYTHON}")
  message("numerics_qnum skipped: no python3 (numerics_check judges the cases in C)")
  return()
endif()
execute_process(COMMAND "${PYTHON}" "${DATA}/qnum.py" run "${QPREP}" "${DATA}/cases"
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
message("${out}${err}")
if(NOT out MATCHES "([0-9]+)/([0-9]+) cases match")
  message(FATAL_ERROR "qnum.py printed no 'N/M cases match' line (exit ${rc})")
endif()
set(ok ${CMAKE_MATCH_1})
set(total ${CMAKE_MATCH_2})
if(NOT rc EQUAL 0 OR NOT ok EQUAL total OR total EQUAL 0)
  message(FATAL_ERROR "${ok}/${total} cases match (qnum.py exit ${rc})")
endif()
