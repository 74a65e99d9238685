# Windows x64 from a Debian 12 x86-64 machine: mingw-w64's posix flavour
# (g++-mingw-w64-x86-64-posix: gcc 12's libstdc++ has std::thread and
# std::mutex only on winpthreads, not in the win32 flavour). The agent's C
# libraries are built from Debian's source packages by
# scripts/build-windows-deps into SEALRELAY_WINDOWS_DEPS (scripts/build-cross
# windows passes its build tree's deps/); cmake/windows_deps.cmake turns them
# into the targets the native build gets from pkg-config and CMake configs.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)

set(SEALRELAY_WINDOWS_DEPS "" CACHE PATH "scripts/build-windows-deps output (prefix/ and include/)")
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32 ${SEALRELAY_WINDOWS_DEPS}/prefix)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# One .exe with everything in it: no libstdc++, libgcc or winpthread DLL
# beside it, and no Visual C++ runtime (mingw links the system's msvcrt).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")

# The programs a build runs (tests, gtest discovery) run under Debian's
# wine64, in a prefix of the build tree's own (created on first use), with
# wine's own diagnostics off.
find_program(SEALRELAY_WINE wine64 HINTS /usr/lib/wine)
if(SEALRELAY_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_COMMAND} -E env WINEDEBUG=-all
      WINEPREFIX=${CMAKE_BINARY_DIR}/wineprefix ${SEALRELAY_WINE})
endif()
