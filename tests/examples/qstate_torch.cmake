# Runs examples/qstate_torch.py (README's PyTorch functions for quantizer state
# files) over state files qprep wrote: each must load into PyTorch and save back
# byte for byte. Needs a Python with torch: PYTHON if it has it, else
# /usr/bin/python3 (Debian's python3-torch); skipped, saying so, without one.
#   cmake -DPYTHON=... -DSCRIPT=qstate_torch.py -DFILES="a;b" -P qstate_torch.cmake
set(found "")
foreach(py ${PYTHON} /usr/bin/python3)
  if(py AND EXISTS ${py})
    execute_process(COMMAND ${py} -c "import torch" RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
    if(rc EQUAL 0)
      set(found ${py})
      break()
    endif()
  endif()
endforeach()
if(NOT found)
  message("qstate_torch skipped: no Python with torch")
  return()
endif()
execute_process(COMMAND ${found} ${SCRIPT} ${FILES} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "qstate_torch.py failed (${rc})")
endif()
