#!/bin/sh
# tests/pkg/check_install.sh: `meson install --destdir` of a build lays down everything a deployment needs (issue
# 19.11), at the paths meson's options give, with every path in the unit, logrotate and the example substituted.
set -u
usage="usage: check_install.sh SOURCE_ROOT BUILD_DIR PREFIX SBINDIR SYSCONFDIR MANDIR DATADIR UNITDIR LOGDIR PID_FILE USER"
[ $# -eq 11 ] || { echo "$usage"; exit 2; }
src=$1 build=$2 prefix=$3 sbindir=$4 sysconfdir=$5 mandir=$6 datadir=$7 unitdir=$8 logdir=$9
shift 9
pid=$1 user=$2
abs() { case "$1" in /*) echo "$1" ;; *) echo "$prefix/$1" ;; esac; }
sbindir=$(abs "$sbindir") sysconfdir=$(abs "$sysconfdir") mandir=$(abs "$mandir") datadir=$(abs "$datadir")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
root=$tmp/root

meson install -C "$build" --no-rebuild --quiet --destdir "$root" --tags runtime,man,doc >"$tmp/install.out" 2>&1 ||
    { cat "$tmp/install.out"; fail "meson install"; }
bin=$root$sbindir/proxyd unit=$root$unitdir/proxyd.service rot=$root$sysconfdir/logrotate.d/proxyd
conf=$sysconfdir/proxyd/proxyd.ini doc=$root$datadir/doc/proxyd
[ -x "$bin" ] || fail "no $sbindir/proxyd"
[ -n "$(find "$root$prefix" -path '*/bin/proxyd-import-nginx' -perm -u+x)" ] || fail "no executable proxyd-import-nginx"
[ -f "$root$mandir/man8/proxyd.8" ] || fail "no man page in $mandir/man8"
[ -f "$unit" ] || fail "no unit in $unitdir"
[ -f "$rot" ] || fail "no logrotate file in $sysconfdir/logrotate.d"
[ -f "$root$conf" ] && [ -f "$root$conf.example" ] || fail "no $conf and $conf.example"
cmp -s "$root$conf" "$root$conf.example" || fail "a first install's proxyd.ini is not the example"
for f in "$src/README.md" "$src"/docs/*.md "$src"/examples/*.ini; do
    [ -f "$doc/${f#"$src/docs/"}" ] || [ -f "$doc/$(basename "$f")" ] || [ -f "$doc/examples/$(basename "$f")" ] ||
        fail "$(basename "$f") is not installed under $datadir/doc/proxyd (docs/meson.build lists it)"
done
[ -f "$doc/examples/proxyd.ini" ] || fail "the configured example is not in the documentation's examples"
# Nothing for developers (libhttp's archive, header, pkg-config file) is in a deployment's tags.
[ -z "$(find "$root" -name '*.a' -o -name '*.h' -o -name '*.pc')" ] || fail "development files installed"

# Every placeholder substituted, and substituted with these options' paths.
grep -rn '@[A-Z_]*@' "$unit" "$rot" "$root$conf" && fail "a placeholder is left"
grep -qx "ExecStart=$sbindir/proxyd -c $conf" "$unit" || fail "ExecStart is not $sbindir/proxyd -c $conf"
grep -qx "ExecStartPre=$sbindir/proxyd -t -c $conf" "$unit" || fail "ExecStartPre does not test $conf"
grep -qx "User=$user" "$unit" || fail "the unit does not run as $user"
grep -q "^ReadWritePaths=$logdir $(dirname "$pid")\$" "$unit" || fail "ReadWritePaths is not $logdir $(dirname "$pid")"
grep -q "^$logdir/\*.log {" "$rot" || fail "logrotate does not rotate $logdir/*.log"
grep -q "kill -USR1 \"\$(cat $pid)\"" "$rot" || fail "logrotate does not signal the pid in $pid"
grep -q "create 0640 $user " "$rot" || fail "logrotate creates logs for another user than $user"
grep -qx "error_log = $logdir/error.log" "$root$conf" || fail "the example's error_log is not in $logdir"
grep -q '^pid_file' "$root$conf" && fail "the example sets pid_file (the default $pid is what the unit expects)"

# The example passes -t once its certificate exists (made here in place of the snakeoil one); logs and pid file
# go to the scratch folder.
mkdir -p "$tmp/log" "$tmp/run"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 2 -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
    >/dev/null 2>&1 || fail "openssl req"
chmod 0600 "$tmp/key.pem"
sed -e "s#/etc/ssl/certs/ssl-cert-snakeoil.pem#$tmp/cert.pem#; s#/etc/ssl/private/ssl-cert-snakeoil.key#$tmp/key.pem#" \
    -e "s#$logdir/#$tmp/log/#; s#^\[global\]#[global]\npid_file = $tmp/run/proxyd.pid#" "$root$conf" >"$tmp/t.ini"
"$bin" -t -c "$tmp/t.ini" >"$tmp/t.out" 2>&1 || { cat "$tmp/t.out"; fail "proxyd -t on the installed example"; }

# A reinstall replaces the example but keeps the administrator's proxyd.ini.
echo "; edited" >>"$root$conf"
meson install -C "$build" --no-rebuild --quiet --destdir "$root" --tags runtime,man,doc >"$tmp/install.out" 2>&1 ||
    { cat "$tmp/install.out"; fail "meson install (again)"; }
tail -n 1 "$root$conf" | grep -qx "; edited" || fail "a reinstall overwrote $conf"
cmp -s "$root$conf.example" "$doc/examples/proxyd.ini" || fail "proxyd.ini.example differs from the documented one"
echo "meson install: $(find "$root" -type f | wc -l) files, paths substituted, example passes -t, reinstall keeps it"
