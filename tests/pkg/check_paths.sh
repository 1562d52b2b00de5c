#!/bin/sh
# tests/pkg/check_paths.sh: the unit, logrotate file and example follow meson's options (issue 19.11): a build
# configured with another prefix, sysconfdir, localstatedir, user and pid file names those paths and no others.
set -u
src=${1:?usage: check_paths.sh SOURCE_ROOT}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
meson setup "$tmp/b" "$src" -Dprefix=/opt/px -Dsysconfdir=/srv/etc -Dlocalstatedir=/srv/var -Duser=pxuser \
    -Dpid_file=/run/pxrun/px.pid -Dsystemdunitdir=/opt/px/units -Dtests=disabled >"$tmp/setup.out" 2>&1 ||
    { cat "$tmp/setup.out"; fail "meson setup"; }
p=$tmp/b/packaging
grep -qx "ExecStart=/opt/px/sbin/proxyd -c /srv/etc/proxyd/proxyd.ini" "$p/proxyd.service" || fail "ExecStart"
grep -qx "User=pxuser" "$p/proxyd.service" || fail "User="
grep -qx "RuntimeDirectory=pxrun" "$p/proxyd.service" || fail "RuntimeDirectory"
grep -qx "ReadWritePaths=/srv/var/log/proxyd /run/pxrun" "$p/proxyd.service" || fail "ReadWritePaths"
grep -q "^LogsDirectory=" "$p/proxyd.service" && fail "LogsDirectory= for a log folder outside /var/log"
grep -q "^/srv/var/log/proxyd/\*.log {" "$p/proxyd.logrotate" || fail "logrotate's log folder"
grep -q 'cat /run/pxrun/px.pid' "$p/proxyd.logrotate" || fail "logrotate's pid file"
grep -qx "error_log = /srv/var/log/proxyd/error.log" "$p/proxyd.ini" || fail "the example's error_log"
grep -nE '(^|[ =(])(/etc/proxyd|/etc/logrotate|/var/log|/usr/sbin|/usr/share)|www-data|@[A-Z_]*@' "$p/proxyd.service" "$p/proxyd.logrotate" \
    "$p/proxyd.ini" | grep -v '/etc/ssl/' && fail "a default path is left where an option should be"
grep -q '/opt/px/units/proxyd.service' "$tmp/b/meson-info/intro-installed.json" || fail "the unit is not installed to systemdunitdir"
meson setup "$tmp/c" "$src" -Dpid_file=/var/run/px.pid -Dtests=disabled >"$tmp/setup.out" 2>&1 &&
    fail "a pid_file outside a folder of /run was accepted"
echo "packaging files follow prefix, sysconfdir, localstatedir, user, pid_file and systemdunitdir"
