# Debian packages (CPack, DEB generator), one per program:
#   sealrelay-relay  /usr/bin/sealrelay-relay, sealrelay-make-certs, systemd units,
#                    /etc/sealrelay/relay.conf, the browser page, nginx examples
#   sealrelay-agent  /usr/bin/sealrelay-agent, its systemd unit, /etc/sealrelay/agent.conf
#   sealrelay        /usr/bin/sealrelay (the CLI), its bash completion
# Each holds its program's man page (help2man, below).
# Build them after a build:  cpack --config build/CPackConfig.cmake -B build/packages
# The maintainer scripts (packaging/debian/) create the user `sealrelay` and
# the state directories; dependencies come from dpkg-shlibdeps.
# Included last by the top-level CMakeLists.txt, once the targets exist.

set(_pkg ${PROJECT_BINARY_DIR}/packaging)
set(_src ${PROJECT_SOURCE_DIR}/packaging)

# The units as packaged: the binaries are in /usr/bin, not /usr/local/bin.
foreach(unit sealrelay-agent.service sealrelay-relay.service sealrelay-relay@.service)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_src}/systemd/${unit})
  file(READ ${_src}/systemd/${unit} _text)
  string(REPLACE "/usr/local/bin/" "/usr/bin/" _text "${_text}")
  file(WRITE ${_pkg}/systemd/${unit} "${_text}")
endforeach()

# Maintainer scripts with the shared helpers pasted in.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_src}/debian/common.sh)
file(READ ${_src}/debian/common.sh _common)
foreach(component relay agent)
  foreach(script postinst prerm postrm)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_src}/debian/${component}/${script})
    file(READ ${_src}/debian/${component}/${script} _text)
    string(REPLACE "@COMMON@" "${_common}" _text "${_text}")
    file(WRITE ${_pkg}/debian/${component}/staging/${script} "${_text}")
    file(COPY ${_pkg}/debian/${component}/staging/${script} DESTINATION ${_pkg}/debian/${component}
         FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  endforeach()
endforeach()
file(WRITE ${_pkg}/debian/relay/conffiles "/etc/sealrelay/relay.conf\n")
file(WRITE ${_pkg}/debian/agent/conffiles "/etc/sealrelay/agent.conf\n")

# ---- what each package holds ------------------------------------------------
if(TARGET sealrelay-relay)
  install(TARGETS sealrelay-relay RUNTIME DESTINATION bin COMPONENT relay)
  install(PROGRAMS ${PROJECT_SOURCE_DIR}/scripts/make-certs DESTINATION bin RENAME sealrelay-make-certs COMPONENT relay)
  install(FILES ${_pkg}/systemd/sealrelay-relay.service ${_pkg}/systemd/sealrelay-relay@.service
          DESTINATION lib/systemd/system COMPONENT relay)
  install(FILES ${_src}/relay.conf.example DESTINATION /etc/sealrelay RENAME relay.conf COMPONENT relay)
  install(FILES ${_src}/relay.conf.example ${_src}/nginx/sealrelay.conf ${_src}/nginx/sealrelay-proxy.conf
          DESTINATION share/doc/sealrelay-relay/examples COMPONENT relay)
  install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/api.md
          DESTINATION share/doc/sealrelay-relay COMPONENT relay)
  # The browser page, when its libsodium modules are there (scripts/setup runs npm).
  if(EXISTS ${PROJECT_SOURCE_DIR}/web/vendor/libsodium-wrappers.mjs)
    install(FILES ${PROJECT_SOURCE_DIR}/web/index.html DESTINATION share/sealrelay/web COMPONENT relay)
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/web/css ${PROJECT_SOURCE_DIR}/web/js ${PROJECT_SOURCE_DIR}/web/vendor
            DESTINATION share/sealrelay/web COMPONENT relay)
  else()
    message(STATUS "packaging: web/vendor is missing (npm ci in web/), the relay package will not carry the page")
  endif()
endif()
if(TARGET sealrelay-agent)
  install(TARGETS sealrelay-agent RUNTIME DESTINATION bin COMPONENT agent)
  install(FILES ${_pkg}/systemd/sealrelay-agent.service DESTINATION lib/systemd/system COMPONENT agent)
  install(FILES ${PROJECT_SOURCE_DIR}/agent/sealrelay-agent.conf.example DESTINATION /etc/sealrelay
          RENAME agent.conf COMPONENT agent)
  install(FILES ${PROJECT_SOURCE_DIR}/agent/sealrelay-agent.conf.example
          DESTINATION share/doc/sealrelay-agent/examples COMPONENT agent)
  install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/agent/README.md
          DESTINATION share/doc/sealrelay-agent COMPONENT agent)
endif()
if(TARGET sealrelay)
  install(TARGETS sealrelay RUNTIME DESTINATION bin COMPONENT cli)
  install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION share/doc/sealrelay COMPONENT cli)
  install(FILES ${_src}/completion/sealrelay DESTINATION share/bash-completion/completions COMPONENT cli)
endif()

# ---- man pages: help2man, from each program's --help (packaging/man/make-man)
# Built with the programs, when they can run here: not when cross-compiling,
# and not under the sanitizers (a --help run at build time is not a test).
find_program(SEALRELAY_HELP2MAN help2man)
function(sealrelay_man_page target component summary)
  if(NOT TARGET ${target} OR CMAKE_CROSSCOMPILING OR SEALRELAY_SANITIZE)
    return()
  endif()
  if(NOT SEALRELAY_HELP2MAN)
    message(STATUS "packaging: help2man not found (scripts/setup installs it): no man page for ${target}")
    return()
  endif()
  set(page ${PROJECT_BINARY_DIR}/man/${target}.1.gz)
  add_custom_command(OUTPUT ${page}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
    COMMAND ${_src}/man/make-man $<TARGET_FILE:${target}> ${PROJECT_VERSION} ${summary} ${page}
    DEPENDS ${target} ${_src}/man/make-man VERBATIM)
  add_custom_target(${target}-man ALL DEPENDS ${page})
  install(FILES ${page} DESTINATION share/man/man1 COMPONENT ${component})
endfunction()
sealrelay_man_page(sealrelay cli "fetch files and listings from agents behind NAT, end-to-end encrypted")
sealrelay_man_page(sealrelay-agent agent "serve a machine's shares to requesters through a relay, end-to-end encrypted")
sealrelay_man_page(sealrelay-relay relay "the relay between agents behind NAT and requesters, blind to plaintext, names and paths")

# ---- CPack ------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sealrelay)
set(CPACK_PACKAGE_VENDOR "sealrelay")
set(CPACK_PACKAGE_CONTACT "sealrelay maintainers <maintainers@sealrelay.invalid>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
# Not "Unspecified" (the plain install rules), and only what this build made
# (scripts/build-cross makes the agent alone).
set(CPACK_COMPONENTS_ALL "")
foreach(_c relay:sealrelay-relay agent:sealrelay-agent cli:sealrelay)
  string(REPLACE ":" ";" _c "${_c}")
  list(GET _c 1 _target)
  if(TARGET ${_target})
    list(GET _c 0 _component)
    list(APPEND CPACK_COMPONENTS_ALL ${_component})
  endif()
endforeach()
# A cross build names its Debian architecture (cmake/toolchains/); a native
# one lets dpkg say.
if(SEALRELAY_DEB_ARCHITECTURE)
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${SEALRELAY_DEB_ARCHITECTURE})
endif()
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/sealrelay/sealrelay")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)

set(CPACK_DEBIAN_RELAY_PACKAGE_NAME sealrelay-relay)
set(CPACK_DEBIAN_AGENT_PACKAGE_NAME sealrelay-agent)
set(CPACK_DEBIAN_CLI_PACKAGE_NAME sealrelay)
# passwd (useradd) is Priority: required, so it needs no Depends.
set(CPACK_DEBIAN_RELAY_PACKAGE_RECOMMENDS "redis-server, nginx")
set(CPACK_DEBIAN_AGENT_PACKAGE_SUGGESTS "sealrelay")
set(CPACK_DEBIAN_RELAY_PACKAGE_CONTROL_EXTRA
    "${_pkg}/debian/relay/postinst;${_pkg}/debian/relay/prerm;${_pkg}/debian/relay/postrm;${_pkg}/debian/relay/conffiles")
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA
    "${_pkg}/debian/agent/postinst;${_pkg}/debian/agent/prerm;${_pkg}/debian/agent/postrm;${_pkg}/debian/agent/conffiles")
# First line: the summary; no CPACK_PACKAGE_DESCRIPTION_SUMMARY (CPack would
# put it above every component's).
set(CPACK_COMPONENT_RELAY_DESCRIPTION
    "sealrelay relay: the cloud part\nRegisters agents, carries opaque handshake messages and encrypted frames\nfrom agents to requesters as Server-Sent Events (in memory or through\nRedis shared by several nodes), and never sees plaintext.")
set(CPACK_COMPONENT_AGENT_DESCRIPTION
    "sealrelay agent: serves local shares through a relay\nConnects out to a sealrelay relay and serves files from the folders it\nshares, read-only and end-to-end encrypted, to the requesters it trusts.")
set(CPACK_COMPONENT_CLI_DESCRIPTION
    "sealrelay command-line requester\nFetches files and listings from sealrelay agents through a relay,\nend-to-end encrypted (Noise_IK), verifying every frame and the whole file.")

include(CPack)
