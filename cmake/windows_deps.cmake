# The dependencies of the Windows agent (cmake/toolchains/windows.cmake), as
# the same targets the native build gets from Debian's pkg-config files and
# CMake configs, so the component CMakeLists.txt files stay as they are.
# The C libraries are scripts/build-windows-deps' static mingw builds; the
# header-only ones are Debian's native headers (linked into
# ${SEALRELAY_WINDOWS_DEPS}/include). Only the agent is built for Windows:
# hiredis (the relay's) is not needed.
if(NOT SEALRELAY_WINDOWS_DEPS OR NOT EXISTS ${SEALRELAY_WINDOWS_DEPS}/prefix/libsodium.version)
  message(FATAL_ERROR "SEALRELAY_WINDOWS_DEPS does not hold the mingw libraries: "
                      "build with scripts/build-cross windows (it runs scripts/build-windows-deps)")
endif()
set(deps ${SEALRELAY_WINDOWS_DEPS})
# pkg-config reads only the .pc files written for the mingw builds.
set(ENV{PKG_CONFIG_LIBDIR} ${deps}/prefix/lib/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

# Windows 10 / Server 2016 APIs; no min/max macros from windows.h;
# localtime_r in mingw's POSIX layer (not _FILE_OFFSET_BITS: it makes
# `stat` a macro, which renames Shares::stat). authorized_requesters.cpp opens its
# file with POSIX flags: close-on-exec is _O_NOINHERIT there, and Windows
# has no controlling terminal or non-blocking files to ask for.
add_compile_definitions(_WIN32_WINNT=0x0A00 WINVER=0x0A00 NOMINMAX WIN32_LEAN_AND_MEAN
                        _POSIX_THREAD_SAFE_FUNCTIONS
                        O_CLOEXEC=_O_NOINHERIT O_NOCTTY=0 O_NONBLOCK=0)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib>=0.11)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium>=1.0.18)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd>=1.4)
# libsodium's .pc does not say that a static libsodium needs SODIUM_STATIC.
target_compile_definitions(PkgConfig::SODIUM INTERFACE SODIUM_STATIC)

set(OPENSSL_ROOT_DIR ${deps}/prefix)
set(OPENSSL_USE_STATIC_LIBS TRUE)
find_package(OpenSSL 3 REQUIRED)
# A static libcrypto on Windows needs the system's socket and crypto APIs.
target_link_libraries(OpenSSL::Crypto INTERFACE ws2_32 crypt32 bcrypt)
find_package(Threads REQUIRED)

# Header-only: nlohmann-json, CLI11, and spdlog with fmt both used header-only
# (Debian's compiled libspdlog.so and libfmt.so are Linux libraries).
foreach(target nlohmann_json::nlohmann_json CLI11::CLI11 fmt::fmt spdlog::spdlog)
  add_library(${target} INTERFACE IMPORTED)
  target_include_directories(${target} SYSTEM INTERFACE ${deps}/include)
endforeach()
target_compile_definitions(fmt::fmt INTERFACE FMT_HEADER_ONLY)
target_compile_definitions(spdlog::spdlog INTERFACE SPDLOG_HEADER_ONLY)
target_link_libraries(spdlog::spdlog INTERFACE fmt::fmt)

# GoogleTest from Debian's sources (googletest, which libgtest-dev pulls in),
# built with this toolchain.
if(SEALRELAY_BUILD_TESTS)
  set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
  add_subdirectory(/usr/src/googletest ${CMAKE_BINARY_DIR}/googletest EXCLUDE_FROM_ALL)
  # googletest's own CMake files define the GTest:: aliases too.
  foreach(lib gtest gtest_main gmock gmock_main)
    target_compile_options(${lib} PRIVATE -Wno-error)
  endforeach()
endif()
unset(deps)
