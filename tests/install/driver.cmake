# driver.cmake - the steps of the packaging tests (registered by CMakeLists.txt here):
#
#   -DSTEP=install    configure, build and install a fresh Release build of SOURCE as a
#                     packager would (tests off, no sanitizer, warnings not fatal; static
#                     or shared per KIND) into WORK/prefix, with a
#                     different CMAKE_INSTALL_PREFIX so the package must be relocatable;
#                     then run the installed qprep tool
#   -DSTEP=cmake      build the consumer project with find_package(qprep) for LANG (C or
#                     CXX) against WORK/prefix and run it on TINY
#   -DSTEP=subdir     build the consumer project with add_subdirectory(SOURCE) and run it
#   -DSTEP=pkgconfig  compile consumer.c with `pkg-config --cflags --libs [--static] qprep`
#                     against WORK/prefix and run it
#   -DSTEP=symbols    the installed library exports only qp_ names (shared: no qp__ either)
#
# Also: -DSOURCE= -DWORK= -DKIND=static|shared -DVERSION= -DTINY= -DGENERATOR=
# -DMAKE_PROGRAM= -DCC= -DCXX= -DPKG_CONFIG= -DNM=. A step that lacks its tool prints
# "QP_SKIP: ..." (the test's SKIP_REGULAR_EXPRESSION).
cmake_minimum_required(VERSION 3.16)

# Runs a command; fails the test with its output unless it exits 0. Sets `out`.
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE o ERROR_VARIABLE o)
  if(NOT rc STREQUAL "0")
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "${what} failed (${rc}):\n  ${cmd}\n${o}")
  endif()
  set(out "${o}" PARENT_SCOPE)
endfunction()

function(skip why)
  message("QP_SKIP: ${why}")
endfunction()

# Arguments that configure a build like the one running the tests.
set(gen -G "${GENERATOR}")
if(MAKE_PROGRAM)
  list(APPEND gen "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
set(prefix ${WORK}/prefix)

# The installed lib dir (GNUInstallDirs decides it: lib, lib64, lib/<multiarch>).
function(find_libdir)
  file(GLOB_RECURSE pc LIST_DIRECTORIES false "${prefix}/*/qprep.pc")
  if(NOT pc)
    message(FATAL_ERROR "no qprep.pc under ${prefix}: run install_${KIND}_setup first")
  endif()
  get_filename_component(d "${pc}" DIRECTORY)
  get_filename_component(d "${d}" DIRECTORY)
  set(libdir "${d}" PARENT_SCOPE)
endfunction()

# Runs an executable on TINY and echoes what it printed.
function(run_consumer exe)
  if(NOT EXISTS "${exe}")
    message(FATAL_ERROR "${exe} was not built")
  endif()
  run("${exe}" "${exe}" "${TINY}")
  message(STATUS "${out}")
endfunction()

if(STEP STREQUAL "install")
  file(REMOVE_RECURSE ${WORK})
  if(KIND STREQUAL "shared")
    set(shared ON)
  else()
    set(shared OFF)
  endif()
  run("configure" ${CMAKE_COMMAND} -S ${SOURCE} -B ${WORK}/build ${gen}
      -DCMAKE_C_COMPILER=${CC} -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=${shared}
      -DQP_BUILD_TESTS=OFF -DQP_BUILD_EXAMPLES=OFF -DQP_BUILD_LIBTORCH=OFF -DQP_SANITIZE=
      -DQP_WERROR=OFF
      -DCMAKE_INSTALL_PREFIX=${WORK}/configured-prefix)
  run("build" ${CMAKE_COMMAND} --build ${WORK}/build --config Release --parallel 2)
  run("install" ${CMAKE_COMMAND} --install ${WORK}/build --config Release --prefix ${prefix})
  find_libdir()
  if(shared)
    file(GLOB lib "${libdir}/libqprep.so")
  else()
    file(GLOB lib "${libdir}/libqprep.a")
  endif()
  foreach(f "${prefix}/include/qprep/qprep.h" "${prefix}/include/qprep/prepare.h"
            "${libdir}/cmake/qprep/qprepConfig.cmake"
            "${libdir}/cmake/qprep/qprepConfigVersion.cmake"
            "${libdir}/cmake/qprep/qprepTargets.cmake" "${lib}" "${prefix}/bin/qprep")
    if(NOT EXISTS "${f}")
      message(FATAL_ERROR "not installed: ${f}")
    endif()
  endforeach()
  if(EXISTS "${WORK}/configured-prefix")
    message(FATAL_ERROR "the install wrote to the configured prefix, not --prefix")
  endif()
  # nothing installed may point back at the build tree
  file(GLOB_RECURSE installed "${libdir}/cmake/*" "${libdir}/pkgconfig/*")
  foreach(f ${installed})
    file(READ "${f}" text)
    string(FIND "${text}" "${WORK}/build" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "${f} refers to the build tree ${WORK}/build")
    endif()
  endforeach()
  # the installed tool runs as installed (a shared build finds its library by RPATH)
  unset(ENV{LD_LIBRARY_PATH})
  run("installed qprep" "${prefix}/bin/qprep" check "${TINY}")
  run("installed qprep" "${prefix}/bin/qprep" fmt "${TINY}")
  file(READ "${TINY}" want)
  if(NOT out STREQUAL want)
    message(FATAL_ERROR "installed `qprep fmt ${TINY}` printed:\n${out}")
  endif()
  message(STATUS "installed ${KIND} qprep into ${prefix}")

elseif(STEP STREQUAL "cmake" OR STEP STREQUAL "subdir")
  if(LANG STREQUAL "CXX")
    set(compiler "-DCMAKE_CXX_COMPILER=${CXX}")
    set(exe consumer_cxx)
    if(NOT CXX)
      skip("no C++ compiler")
      return()
    endif()
  else()
    set(compiler "-DCMAKE_C_COMPILER=${CC}")
    set(exe consumer)
  endif()
  set(bdir ${WORK}/${STEP}-${LANG})
  file(REMOVE_RECURSE ${bdir})
  if(STEP STREQUAL "subdir")
    set(how -DQP_SUBDIR=${SOURCE})
  else()
    find_libdir()
    set(how -DCMAKE_PREFIX_PATH=${prefix} -DQP_EXPECT_PREFIX=${prefix})
  endif()
  run("configure the consumer" ${CMAKE_COMMAND} -S ${SOURCE}/tests/install/consumer -B ${bdir}
      ${gen} ${compiler} -DQP_CONSUMER_LANGS=${LANG} ${how})
  run("build the consumer" ${CMAKE_COMMAND} --build ${bdir} --config Release)
  run_consumer(${bdir}/${exe})

elseif(STEP STREQUAL "pkgconfig")
  if(NOT PKG_CONFIG)
    skip("no pkg-config")
    return()
  endif()
  find_libdir()
  set(ENV{PKG_CONFIG_PATH} "${libdir}/pkgconfig")
  unset(ENV{PKG_CONFIG_LIBDIR})
  run("pkg-config --modversion" ${PKG_CONFIG} --modversion qprep)
  string(STRIP "${out}" v)
  if(NOT v STREQUAL VERSION)
    message(FATAL_ERROR "pkg-config says qprep ${v}, the project is ${VERSION}")
  endif()
  if(KIND STREQUAL "shared")
    set(ENV{LD_LIBRARY_PATH} "${libdir}") # pkg-config gives no run path
  endif()
  file(MAKE_DIRECTORY ${WORK}/pkgconfig)
  foreach(mode plain static)
    set(args --cflags --libs qprep)
    if(mode STREQUAL "static")
      list(PREPEND args --static)
    endif()
    string(REPLACE ";" " " shown "${args}")
    run("pkg-config ${shown}" ${PKG_CONFIG} ${args})
    string(STRIP "${out}" flags)
    message(STATUS "pkg-config ${shown}: ${flags}")
    if(KIND STREQUAL "shared" AND NOT flags MATCHES "-DQP_SHARED")
      message(FATAL_ERROR "the shared library's Cflags lack -DQP_SHARED")
    endif()
    separate_arguments(flags UNIX_COMMAND "${flags}")
    set(exe ${WORK}/pkgconfig/consumer-${mode})
    run("compile with pkg-config flags" ${CC} -std=c11 -Wall -Wextra -Wpedantic -Werror
        ${SOURCE}/tests/install/consumer/consumer.c "-DQP_EXPECT_VERSION=\"${VERSION}\""
        ${flags} -o ${exe})
    run_consumer(${exe})
  endforeach()

elseif(STEP STREQUAL "symbols")
  if(NOT NM)
    skip("no nm")
    return()
  endif()
  find_libdir()
  if(KIND STREQUAL "shared")
    # the dynamic symbol table: public qp_ functions only, never a qp__ internal
    run("nm" ${NM} -D --defined-only "${libdir}/libqprep.so")
    set(allowed "^qp_[a-z0-9]")
  else()
    # a static archive cannot hide internals, but every global name keeps to qp_/qp__
    run("nm" ${NM} -g --defined-only "${libdir}/libqprep.a")
    set(allowed "^qp_")
  endif()
  string(REPLACE "\n" ";" lines "${out}")
  set(good 0)
  set(bad "")
  foreach(line ${lines})
    # "ADDRESS TYPE NAME"; archive member headers ("x.o:") and blank lines have no type
    if(line MATCHES "^[0-9a-fA-F]* *[A-Za-z] ([^ ]+)$")
      set(name "${CMAKE_MATCH_1}")
      if(name MATCHES "${allowed}")
        math(EXPR good "${good} + 1")
      else()
        list(APPEND bad "${name}")
      endif()
    endif()
  endforeach()
  if(bad)
    string(REPLACE ";" "\n  " bad "${bad}")
    message(FATAL_ERROR "libqprep (${KIND}) exports names outside ${allowed}:\n  ${bad}")
  endif()
  if(good EQUAL 0)
    message(FATAL_ERROR "nm listed no qp_ symbols at all:\n${out}")
  endif()
  message(STATUS "libqprep (${KIND}): ${good} exported symbols, all match ${allowed}")

else()
  message(FATAL_ERROR "driver.cmake: unknown -DSTEP=${STEP}")
endif()
