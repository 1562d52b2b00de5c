# Sourced by scripts/deps.sh: makes mbedTLS >= 3.6 available to the meson build without touching the system.
# px_ensure_mbedtls: the system's mbedTLS when it is >= 3.6; else Debian 13's source package, built into .deps/.
#
# On Debian 12 (mbedTLS 2.28) the newest `mbedtls` source of trixie / trixie-security is fetched by apt-get with
# a private configuration under .deps/apt (its own sources list, lists and cache; Signed-By the system's
# debian-archive-keyring, so apt checks the Release signature and every file's hash as for any package), unpacked
# with dpkg-source (Debian's patches applied), patched with proxyd's own series (scripts/mbedtls-patches/, in a copy
# of the tree: README "mbedTLS 3.6"), and built as static libraries with proxyd's own configuration header
# (libtlsio/mbedtls_config.h) into .deps/mbedtls-<version>/. .deps/mbedtls points at the prefix in use; meson reads
# it. A stamp (version + hash of the configuration header + hash of the patch series) makes later runs rebuild
# only when one changes: a fix Debian's security team publishes in trixie-security is picked up by the next
# ./run.sh, ./test.sh or scripts/mbedtls.sh run, and stops the build loudly if a patch no longer applies. Nothing is
# installed in /usr, /etc/apt or dpkg's database.

PX_MBEDTLS_MIN=3.6.0

# 0 when the system's mbedTLS headers are >= 3.6 (pkg-config first, then the header's version number).
px_system_mbedtls_ok() {
    pkg-config --atleast-version="$PX_MBEDTLS_MIN" mbedtls 2>/dev/null && return 0
    local v
    v=$(printf '#include <mbedtls/build_info.h>\nMBEDTLS_VERSION_NUMBER\n' |
        cc -E -P -x c - 2>/dev/null | tail -n 1) || return 1
    [[ "$v" =~ ^0x[0-9A-Fa-f]+$ ]] && [ $((v)) -ge $((0x03060000)) ]
}

# apt-get or apt-cache ($1) with a configuration of its own: of the system's apt state only the keyring is read.
px_mbedtls_apt() {
    local tool="$1" d="$2"
    shift 2
    "$tool" -q -o Dir::Etc::SourceList="$d/sources.list" -o Dir::Etc::SourceParts="$d/sources.list.d" \
        -o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache" -o Dir::Etc::Preferences="$d/preferences" \
        -o Dir::Etc::PreferencesParts="$d/preferences.d" -o Acquire::Languages=none \
        -o APT::Sandbox::User="$(id -un)" "$@"
}

# Refreshes the private package lists (apt asks only for what changed), then fetches and unpacks the newest
# trixie(-security) source into $2 unless that version is there already; prints the Debian version on stdout.
px_mbedtls_fetch() {
    local deps="$1" src="$2" apt="$1/apt" keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/sources.list.d" "$apt/preferences.d"
    cat >"$apt/sources.list" <<SOURCES
deb-src [signed-by=$keyring] http://deb.debian.org/debian trixie main
deb-src [signed-by=$keyring] http://deb.debian.org/debian-security trixie-security main
SOURCES
    px_mbedtls_apt apt-get "$apt" update >&2 || return 1
    local ver
    ver=$(px_mbedtls_apt apt-cache "$apt" showsrc mbedtls 2>/dev/null | awk '$1 == "Version:" {print $2}' |
        sort -V | tail -n 1)
    [ -n "$ver" ] || { echo "mbedtls: no source package found in trixie" >&2; return 1; }
    if [ ! -f "$src/$ver.unpacked" ]; then # apt checked the files' hashes; dpkg-source applies Debian's patches
        rm -rf "$src" && mkdir -p "$src"
        (cd "$src" && px_mbedtls_apt apt-get "$apt" source --download-only "mbedtls=$ver" >&2 &&
            dpkg-source --no-check -x mbedtls_*.dsc tree >&2 && touch "$ver.unpacked") || return 1
    fi
    echo "$ver"
}

# Hash of proxyd's patch series ($1: the folder): the series file and every patch it names, in order.
px_mbedtls_series_hash() {
    local dir="$1" p
    { cat "$dir/series" && while read -r p; do cat "$dir/$p"; done < <(grep -v '^\s*\(#\|$\)' "$dir/series"); } |
        sha256sum | cut -c1-16
}

# Copies Debian's unpacked tree $1 (version $5) to $2 and applies the series in $3 there, each patch once (patch
# --forward; the copy is remade whenever the series' hash $4, written to $2/.proxyd-patches, changes). A patch that
# does not apply (a new Debian version changed the code it touches) stops everything, loudly: a build without it
# would silently bring back the defects it fixes.
px_mbedtls_patch() {
    local tree="$1" out="$2" dir="$3" hash="$4" ver="$5" p
    [ "$(cat "$out/.proxyd-patches" 2>/dev/null)" = "$hash" ] && return 0
    rm -rf "$out" && cp -a "$tree" "$out" || return 1
    while read -r p; do
        echo "mbedtls: applying scripts/mbedtls-patches/$p" >&2
        patch -d "$out" -p1 --forward --batch --no-backup-if-mismatch -s <"$dir/$p" >&2 || {
            echo "mbedtls: ERROR: scripts/mbedtls-patches/$p does not apply to Debian's mbedtls $ver:" \
                "refresh it (README \"mbedTLS 3.6\"); nothing was built" >&2
            rm -rf "$out"
            return 1
        }
    done < <(grep -v '^\s*\(#\|$\)' "$dir/series")
    echo "$hash" >"$out/.proxyd-patches"
}

# Builds the unpacked tree $1 with proxyd's configuration header $2 into the prefix $3 (static libraries). The one
# change to Debian's tree: its cmake-disable-3rdparty.patch drops 3rdparty/ from the build (Debian's configuration
# uses none of it); proxyd's enables EVEREST (X25519), whose sources are there, so the folder is built again.
px_mbedtls_build() {
    local tree="$1" conf="$2" prefix="$3" b="$1/build-proxyd"
    rm -rf "$b" "$prefix"
    grep -q '^add_subdirectory(3rdparty)' "$tree/CMakeLists.txt" ||
        sed -i 's|^add_subdirectory(library)$|add_subdirectory(3rdparty)\n\nadd_subdirectory(library)|' "$tree/CMakeLists.txt"
    cmake -S "$tree" -B "$b" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
        -DCMAKE_INSTALL_LIBDIR=lib -DMBEDTLS_CONFIG_FILE="$conf" -DENABLE_TESTING=OFF -DENABLE_PROGRAMS=OFF \
        -DUSE_STATIC_MBEDTLS_LIBRARY=ON -DUSE_SHARED_MBEDTLS_LIBRARY=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
        -DGEN_FILES=OFF -DMBEDTLS_FATAL_WARNINGS=OFF >&2 &&
        cmake --build "$b" -j "$(nproc)" >&2 && cmake --install "$b" >&2 &&
        cp "$conf" "$prefix/include/mbedtls/mbedtls_config.h" && # what every user of the prefix compiles with
        px_mbedtls_merge_3rdparty "$prefix/lib"
}

# Folds libeverest.a and libp256m.a into libmbedcrypto.a, so that the prefix always has the same three libraries
# whatever the configuration enables (a build folder configured before keeps linking).
px_mbedtls_merge_3rdparty() {
    local lib="$1" l
    for l in everest p256m; do
        [ -f "$lib/lib$l.a" ] || continue
        rm -rf "$lib/obj-$l" && mkdir "$lib/obj-$l" &&
            (cd "$lib/obj-$l" && ar x "../lib$l.a" && for o in *.o; do mv "$o" "$l-$o"; done) 2>/dev/null
        ls "$lib/obj-$l"/*.o >/dev/null 2>&1 && ar rs "$lib/libmbedcrypto.a" "$lib/obj-$l"/*.o >&2
        rm -rf "$lib/obj-$l" "$lib/lib$l.a"
    done
}

px_ensure_mbedtls() {
    local root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    local deps="$root/.deps" conf="$root/libtlsio/mbedtls_config.h"
    if [ "${PX_MBEDTLS:-auto}" != private ] && px_system_mbedtls_ok; then
        rm -f "$deps/mbedtls" # the system's library wins; meson falls back to it
        return 0
    fi
    px_ensure_packages dpkg-dev cmake debian-archive-keyring patch >/dev/null
    mkdir -p "$deps"
    local ver
    ver=$(px_mbedtls_fetch "$deps" "$deps/src") || { # offline: the source fetched last time, if any
        ver=$(find "$deps/src" -maxdepth 1 -name '*.unpacked' -printf '%f\n' 2>/dev/null | sed 's/\.unpacked$//' |
            sort -V | tail -n 1) # the newest, should several have been fetched
        [ -z "$ver" ] || echo "mbedtls: fetch failed; using the source fetched before, $ver" >&2
    }
    [ -n "$ver" ] && [ -f "$deps/src/$ver.unpacked" ] || {
        # Offline with no source: keep the last good build rather than fail, and say so.
        [ -e "$deps/mbedtls/lib/libmbedtls.a" ] && { echo "mbedtls: fetch failed; using $(readlink "$deps/mbedtls")" >&2; return 0; }
        echo "mbedtls: cannot fetch Debian's mbedtls source and no earlier build exists" >&2
        return 1
    }
    local patches="$root/scripts/mbedtls-patches" series tree="$deps/src/tree-proxyd"
    series=$(px_mbedtls_series_hash "$patches") || return 1
    if [ "${PX_MBEDTLS_NO_PATCHES:-0}" = 1 ]; then # a security update first, the refreshed patches later
        echo "mbedtls: WARNING: PX_MBEDTLS_NO_PATCHES=1: building without proxyd's patches: what they fix" \
            "(defects 4 and 8, README \"mbedTLS 3.6\") returns" >&2
        series=none tree="$deps/src/tree"
    fi
    local stamp="$ver $(sha256sum "$conf" | cut -c1-16) patches $series"
    local prefix="$deps/mbedtls-$ver"
    if [ "$(cat "$prefix/.stamp" 2>/dev/null)" != "$stamp" ]; then
        [ "$series" = none ] || px_mbedtls_patch "$deps/src/tree" "$tree" "$patches" "$series" "$ver" || return 1
        echo "mbedtls: building Debian's mbedtls $ver (patches: $series) with libtlsio/mbedtls_config.h" \
            "into $prefix" >&2
        px_mbedtls_build "$tree" "$conf" "$prefix" || return 1
        echo "$stamp" >"$prefix/.stamp"
    fi
    ln -sfn "mbedtls-$ver" "$deps/mbedtls"
}
