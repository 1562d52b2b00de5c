#!/usr/bin/env bash
# tests/pkg/check_deb.sh: builds the Debian package from a copy of the tree (never in it), runs lintian (an E: fails)
# and checks what the package installs, its maintainer scripts and that the extracted proxyd passes -t (issue 19.12).
# Usage: tests/pkg/check_deb.sh [SOURCE_ROOT]   (PX_KEEP_DEB=DIR keeps the .deb and lintian's output there)
set -uo pipefail
src=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
for tool in dpkg-buildpackage dh lintian fakeroot; do
    command -v "$tool" >/dev/null || { echo "check_deb: skipped, $tool is not installed"; exit 77; }
done
tmp=$(mktemp -d)
[ -n "${PX_KEEP_TMP:-}" ] || trap 'rm -rf "$tmp"' EXIT
fail() { echo "check_deb: FAIL: $*"; exit 1; }

# The tree as git knows it (tracked and new files, not build folders or what .gitignore names); outside git, all
# but build folders. A .deps/ (libraries scripts/ built for this tree, kept out of git) comes along as a cache.
mkdir "$tmp/proxyd"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$src" && git ls-files -z --cached --others --exclude-standard | xargs -0 -r sh -c 'for f; do [ -e "$f" ] &&
        printf "%s\0" "$f"; done' sh | tar -c --null -T - -f -) | tar -x -C "$tmp/proxyd" || fail "copying the tree"
else
    (cd "$src" && tar -c --exclude='./build*' --exclude=./.deps -f - .) | tar -x -C "$tmp/proxyd" || fail "copying"
fi
[ -d "$src/.deps" ] && cp -a "$src/.deps" "$tmp/proxyd/"
version=$(cd "$src" && meson introspect meson.build --projectinfo 2>/dev/null | sed -n 's/.*"version": *"\([^"]*\)".*/\1/p')
arch=$(dpkg --print-architecture)
(cd "$tmp/proxyd" && nice dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1 ||
    { tail -n 40 "$tmp/build.log"; fail "dpkg-buildpackage"; }
deb=$tmp/proxyd_${version}_${arch}.deb
[ -f "$deb" ] || fail "no proxyd_${version}_${arch}.deb (version is meson's $version)"

lintian --tag-display-limit 0 --display-info "$deb" >"$tmp/lintian.out" 2>&1
grep '^E:' "$tmp/lintian.out" && fail "lintian reports errors"
grep '^[WI]:' "$tmp/lintian.out" | sed 's/^/lintian: /'

root=$tmp/root
dpkg -x "$deb" "$root" || fail "dpkg -x"
unit=$(cd "$root" && ls lib/systemd/system/proxyd.service usr/lib/systemd/system/proxyd.service 2>/dev/null | head -n 1)
for f in usr/sbin/proxyd usr/bin/proxyd-import-nginx "$unit" etc/logrotate.d/proxyd etc/proxyd/proxyd.ini usr/share/man/man8/proxyd.8.gz \
    usr/share/doc/proxyd/copyright usr/share/doc/proxyd/examples/proxyd.ini; do
    [ -n "$f" ] && [ -f "$root/$f" ] || fail "the package lacks ${f:-a systemd unit}"
done
for f in "$src/README.md" "$src"/docs/*.md "$src"/examples/*.ini; do
    n=$(basename "$f")
    [ -n "$(find "$root/usr/share/doc/proxyd" -name "$n" -o -name "$n.gz")" ] || fail "the package lacks the documentation $n"
done
[ -e "$root/etc/proxyd/proxyd.ini.example" ] && fail "the package ships proxyd.ini.example beside the conffile"
[ -z "$(find "$root" -name '*.a' -o -name '*.h' -o -name '*.pc')" ] || fail "development files in the package"

# The unit starts the binary the package ships, on the configuration it ships, as the user postinst creates.
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\) -c \([^ ]*\)$/\1 \2/p' "$root/$unit")
set -- $exec_start
[ -x "$root$1" ] || fail "the unit's ExecStart $1 is not in the package"
[ "$2" = /etc/proxyd/proxyd.ini ] || fail "the unit reads $2, not /etc/proxyd/proxyd.ini"
grep -qx 'User=proxyd' "$root/$unit" || fail "the unit does not run as proxyd"
dpkg-deb -e "$deb" "$tmp/control" || fail "dpkg-deb -e"
grep -qx /etc/proxyd/proxyd.ini "$tmp/control/conffiles" || fail "/etc/proxyd/proxyd.ini is not a conffile"
grep -qx /etc/logrotate.d/proxyd "$tmp/control/conffiles" || fail "/etc/logrotate.d/proxyd is not a conffile"
grep -q 'adduser --system --group .*--home /nonexistent --no-create-home' "$tmp/control/postinst" ||
    fail "postinst does not create the system user proxyd"
grep -q 'adduser --quiet proxyd ssl-cert' "$tmp/control/postinst" || fail "postinst does not add proxyd to ssl-cert"
# dh_installsystemd --no-enable: the unit is enabled again on upgrade only when it was (debian-installed).
grep -q 'deb-systemd-helper debian-installed' "$tmp/control/postinst" || fail "postinst enables the unit"
depends=$(dpkg-deb -f "$deb" Depends)
case "$depends" in *adduser*python3*ssl-cert*) ;; *) fail "Depends lacks adduser, python3 (the importer), ssl-cert: $depends" ;; esac
# A static mbedTLS (Debian 12: built from Debian 13's source into .deps/) is named in Built-Using.
if [ -L "$src/.deps/mbedtls" ]; then
    want="mbedtls (= $(readlink "$src/.deps/mbedtls" | sed 's/^mbedtls-//'))"
    [ "$(dpkg-deb -f "$deb" Built-Using)" = "$want" ] || fail "Built-Using is not $want: $(dpkg-deb -f "$deb" Built-Using)"
fi

# The extracted proxyd passes -t on the extracted configuration, its absolute paths moved to the scratch root.
mkdir -p "$root/etc/ssl/certs" "$root/etc/ssl/private" "$root/var/log/proxyd" "$root/run/proxyd"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 2 -keyout "$root/etc/ssl/private/ssl-cert-snakeoil.key" \
    -out "$root/etc/ssl/certs/ssl-cert-snakeoil.pem" >/dev/null 2>&1 || fail "openssl req"
chmod 0640 "$root/etc/ssl/private/ssl-cert-snakeoil.key"
sed -e "s#= /etc/#= $root/etc/#; s#= /var/log/#= $root/var/log/#" \
    -e "s#^\[global\]#[global]\npid_file = $root/run/proxyd/proxyd.pid#" "$root/etc/proxyd/proxyd.ini" >"$tmp/t.ini"
"$root/usr/sbin/proxyd" -t -c "$tmp/t.ini" >"$tmp/t.out" 2>&1 || { cat "$tmp/t.out"; fail "proxyd -t on the example"; }
[ "$("$root/usr/sbin/proxyd" -v 2>&1 | grep -o "$version")" = "$version" ] || fail "proxyd -v is not $version"

if [ -n "${PX_KEEP_DEB:-}" ]; then
    mkdir -p "$PX_KEEP_DEB" && cp "$deb" "$tmp/lintian.out" "$PX_KEEP_DEB/"
fi
echo "check_deb: proxyd_${version}_${arch}.deb: $(find "$root" -type f | wc -l) files, lintian: $(grep -c '^E:' \
    "$tmp/lintian.out") errors, $(grep -c '^W:' "$tmp/lintian.out") warnings; proxyd -t passes on its example"
