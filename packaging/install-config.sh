#!/bin/sh
# packaging/install-config.sh: meson install's last step: creates DESTDIR/SYSCONFDIR/proxyd/proxyd.ini from the
# example beside it when there is none, so a reinstall keeps the administrator's configuration.
set -eu
dir=${1:?usage: install-config.sh SYSCONFDIR/proxyd}
case "$dir" in /*) ;; *) dir=$MESON_INSTALL_PREFIX/$dir ;; esac
dest=${MESON_INSTALL_DESTDIR_PREFIX%"$MESON_INSTALL_PREFIX"}$dir
if [ -e "$dest/proxyd.ini" ]; then
    echo "keeping $dir/proxyd.ini (the new example is $dir/proxyd.ini.example)"
else
    cp "$dest/proxyd.ini.example" "$dest/proxyd.ini"
    echo "installed $dir/proxyd.ini from proxyd.ini.example"
fi
