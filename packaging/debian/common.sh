# Shared by the maintainer scripts of sealrelay-relay and sealrelay-agent
# (cmake/packaging.cmake pastes it into each script).

# The unprivileged user both daemons run as; created once, never removed
# (files it owned may outlive the package).
sealrelay_user() {
  if ! getent group sealrelay >/dev/null; then
    groupadd --system sealrelay
  fi
  if ! getent passwd sealrelay >/dev/null; then
    useradd --system --gid sealrelay --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin --comment "sealrelay daemons" sealrelay
  fi
}

# sealrelay_dirs STATE_DIR CONFFILE: the state directory (owner only) and a
# config file readable by the daemons' group, unless the admin chose other
# modes with dpkg-statoverride.
sealrelay_dirs() {
  if ! dpkg-statoverride --list "$1" >/dev/null 2>&1; then
    install -d -m 0700 -o sealrelay -g sealrelay "$1"
  fi
  if [ -f "$2" ] && ! dpkg-statoverride --list "$2" >/dev/null 2>&1; then
    chown root:sealrelay "$2"
    chmod 0640 "$2"
  fi
}

sealrelay_systemd_reload() {
  if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null 2>&1 || true
  fi
}
