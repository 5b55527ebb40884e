# qp_find_cmocka(): sets QP_CMOCKA to a target for cmocka, or to "" when it is not
# installed. Looks for its CMake package first, then asks pkg-config; quietly, since the
# caller says what a missing cmocka means. Once per configure.
macro(qp_find_cmocka)
  if(NOT DEFINED QP_CMOCKA)
    set(QP_CMOCKA "")
    find_package(cmocka CONFIG QUIET)
    if(TARGET cmocka::cmocka)
      set(QP_CMOCKA cmocka::cmocka)
    elseif(CMOCKA_LIBRARY OR CMOCKA_LIBRARIES)
      # Debian 12's cmocka 1.1.5 config sets variables only
      if(NOT CMOCKA_LIBRARY)
        set(CMOCKA_LIBRARY ${CMOCKA_LIBRARIES})
      endif()
      add_library(cmocka::cmocka UNKNOWN IMPORTED)
      set_target_properties(cmocka::cmocka PROPERTIES IMPORTED_LOCATION "${CMOCKA_LIBRARY}"
                            INTERFACE_INCLUDE_DIRECTORIES "${CMOCKA_INCLUDE_DIR}")
      set(QP_CMOCKA cmocka::cmocka)
    else()
      find_package(PkgConfig QUIET)
      if(PKG_CONFIG_FOUND)
        pkg_check_modules(CMOCKA QUIET IMPORTED_TARGET cmocka)
        if(TARGET PkgConfig::CMOCKA)
          set(QP_CMOCKA PkgConfig::CMOCKA)
        endif()
      endif()
    endif()
  endif()
endmacro()

# How to get the tests, for the messages that say they are off or cannot be built.
set(QP_CMOCKA_HOWTO "`sh tests/run.sh` installs what the tests need (libcmocka-dev), then \
builds and runs them")
