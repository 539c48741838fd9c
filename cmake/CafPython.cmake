# The Python caf is built for, found before src/ and python/ so that both agree: python/ builds the
# package for it, and libcaf's algorithm runner (src/algorithm/python_algorithm.c) runs algorithms
# written in Python with it and finds the package in the build tree or where `make install` puts it.
# Debian's /usr/bin/python3 by default (a pyenv python3 on PATH has neither numpy nor the distribution's
# dist-packages); -DPython3_EXECUTABLE=... picks another.
if(NOT DEFINED Python3_EXECUTABLE AND EXISTS /usr/bin/python3)
  set(Python3_EXECUTABLE /usr/bin/python3)
endif()
find_package(Python3 REQUIRED COMPONENTS Interpreter Development.Module)

# Where the package goes under the install prefix: Python's own layout for a prefix, with Debian's
# dist-packages (Debian's python3 does not look in <prefix>/lib/python3.X/site-packages).
execute_process(COMMAND ${Python3_EXECUTABLE} -c
  "import sysconfig; p = sysconfig.get_path('platlib', 'posix_prefix', vars={'platbase': '', 'base': ''}).lstrip('/'); print(p.replace('site-packages', 'dist-packages') if 'deb_system' in sysconfig.get_scheme_names() else p)"
  OUTPUT_VARIABLE cafpy_default_dir OUTPUT_STRIP_TRAILING_WHITESPACE)
set(CAF_PYTHON_INSTALL_DIR "${cafpy_default_dir}" CACHE STRING "Where make install puts the package caf (relative to the prefix)")

# An instrumented extension module in an uninstrumented interpreter needs the sanitizer runtimes loaded
# first (python tests, and the interpreter the runner starts for a Python algorithm).
set(CAF_PYTHON_SANITIZER_PRELOAD "")
if(CAF_SANITIZE)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so OUTPUT_VARIABLE asan_runtime
    OUTPUT_STRIP_TRAILING_WHITESPACE)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libubsan.so OUTPUT_VARIABLE ubsan_runtime
    OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(CAF_PYTHON_SANITIZER_PRELOAD "${asan_runtime}:${ubsan_runtime}")
endif()
