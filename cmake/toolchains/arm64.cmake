# Linux arm64 (aarch64) from a Debian 12 x86-64 machine: Debian's cross
# compiler (crossbuild-essential-arm64) and its multiarch -dev:arm64 packages
# in /usr/lib/aarch64-linux-gnu, no sysroot. scripts/build-cross arm64 uses
# it; scripts/setup --cross arm64 installs what it needs.
# One file per target in this folder, named as scripts/build-cross names
# the target.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# pkg-config must read the arm64 .pc files only: the x86-64 ones sit in
# /usr/lib/x86_64-linux-gnu/pkgconfig with the same names. The
# architecture-independent ones (/usr/share/pkgconfig) serve both.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

# The programs a build runs (tests, gtest discovery) run under qemu-user,
# with the arm64 loader and libc of the multiarch libc6:arm64, as on an arm64
# Debian machine. Not `-L /usr/aarch64-linux-gnu` (the cross compiler's
# libc): its loader would meet libc6:arm64's libc.so.6 through ld.so.cache
# and the mixed pair hangs at the first thread (docs/dependencies.md §11).
find_program(SEALRELAY_QEMU qemu-aarch64)
if(SEALRELAY_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${SEALRELAY_QEMU})
endif()

# The Debian architecture of the packages cpack makes.
set(SEALRELAY_DEB_ARCHITECTURE arm64)
