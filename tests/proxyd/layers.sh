#!/usr/bin/env bash
# tests/proxyd: the daemon's folders form layers. From the objects' symbol tables (nm), every call or reference
# from a file in one folder to a symbol defined in another must point down this order; a lower folder reaches a
# higher one only through function pointers it was given (px_hooks, px_upconn_ops, px_handler), which nm cannot see.
# Usage: layers.sh LIBPROXYD_CORE.a MAIN.o  (prints the folder graph; exits 1 on an upward edge)
set -euo pipefail
order=(common config core upstream http handler main)
rank() { local i; for i in "${!order[@]}"; do [ "${order[$i]}" = "$1" ] && { echo "$i"; return; }; done; echo -1; }
folder() { # object name as meson writes it: common_stream.c.o, or main.c.o
    local base=${1##*/}
    case "$base" in main.c.o) echo main ;; *) echo "${base%%_*}" ;; esac
}
defs=$(mktemp) uses=$(mktemp)
trap 'rm -f "$defs" "$uses"' EXIT
for obj in "$1".p/*.o "$2"; do
    [ -f "$obj" ] || { echo "layers: missing object $obj" >&2; exit 2; }
    f=$(folder "$obj")
    [ "$(rank "$f")" -ge 0 ] || continue # a stale object of an older layout left in the build folder
    nm "$obj" | awk -v f="$f" '$2 ~ /^[TDBR]$/ {print $3, f}' >> "$defs"
    nm -u "$obj" | awk -v f="$f" '{print $2, f}' >> "$uses"
done
bad=0
while read -r from to; do
    rf=$(rank "$from") rt=$(rank "$to")
    if [ "$rt" -gt "$rf" ]; then echo "UPWARD: $from -> $to"; bad=1; else echo "$from -> $to"; fi
done < <(join <(sort "$uses") <(sort "$defs") | awk '$2 != $3 {print $2, $3}' | sort -u)
[ "$bad" -eq 0 ] && echo "layers: every edge points down (${order[*]})"
exit "$bad"
