# Checks that a copy in tests/data mirrors a folder of ../shared: every file of
# SHARED must be in DATA, byte for byte. WHAT names the set in messages
# (default "conformance": tests/data mirrors ../shared/conformance), COPY the
# copy's path (default tests/data). Skips (passes) when the shared folder is not
# beside the checkout, as in CI.
if(NOT WHAT)
  set(WHAT conformance)
endif()
if(NOT COPY)
  set(COPY tests/data)
endif()
if(NOT IS_DIRECTORY "${SHARED}")
  message(STATUS "no ${SHARED}: nothing to compare")
  return()
endif()
set(bad 0)
file(GLOB_RECURSE shared_files RELATIVE "${SHARED}" "${SHARED}/*")
foreach(f ${shared_files})
  if(NOT EXISTS "${DATA}/${f}")
    message(SEND_ERROR "${COPY}/${f} is missing (copy it from ${SHARED}/${f})")
    set(bad 1)
  else()
    execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files "${SHARED}/${f}" "${DATA}/${f}"
                    RESULT_VARIABLE diff)
    if(NOT diff EQUAL 0)
      message(SEND_ERROR "${COPY}/${f} differs from ${SHARED}/${f}")
      set(bad 1)
    endif()
  endif()
endforeach()
list(LENGTH shared_files n)
message(STATUS "${n} shared ${WHAT} files compared")
